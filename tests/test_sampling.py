import numpy as np
import pytest

from edgeqwen import GenerationConfig, InvalidRequestError
from edgeqwen.runtime.sampling import (
    apply_min_p,
    apply_tail_free,
    apply_top_a,
    apply_top_k,
    apply_top_p,
    apply_typical,
    log_softmax,
    make_bias_processor,
    make_logits_processors,
    make_penalty_processor,
    make_sampler,
    most_likely,
)

LOGITS = np.array([1.0, 3.0, 2.0, -1.0, 0.5], dtype=np.float32)
IDS = np.arange(5)


def test_top_k_keeps_k_best():
    ids, vals = apply_top_k(IDS, LOGITS, 2)
    assert sorted(ids.tolist()) == [1, 2]
    assert sorted(vals.tolist()) == [2.0, 3.0]
    assert apply_top_k(IDS, LOGITS, 0)[0].tolist() == IDS.tolist()


def test_top_p_smallest_nucleus():
    probs = np.exp(LOGITS) / np.exp(LOGITS).sum()  # ~[.08, .60, .22, .01, .05]
    ids, _ = apply_top_p(IDS, LOGITS, 0.5)
    assert ids.tolist() == [1]
    ids, _ = apply_top_p(IDS, LOGITS, 0.7)
    assert ids.tolist() == [1, 2]
    assert probs[[1, 2]].sum() >= 0.7


def test_top_p_exact_on_wide_vocab():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=5000).astype(np.float32)  # flat: the 256-token probe is not enough
    ids, _ = apply_top_p(np.arange(5000), logits, 0.9)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    order = np.argsort(-probs)
    n = int(np.searchsorted(np.cumsum(probs[order]), 0.9) + 1)
    assert sorted(ids.tolist()) == sorted(order[:n].tolist())


def test_typical_keeps_the_tokens_nearest_the_entropy_until_they_hold_p():
    probs = np.exp(LOGITS) / np.exp(LOGITS).sum()  # ~[.084, .624, .229, .011, .051]; entropy ~1.04 nats
    # surprise ~[2.47, .47, 1.47, 4.47, 2.97]: nearest the entropy 2 (.43 off), then 1 (.57), 0, 4, 3
    assert apply_typical(IDS, LOGITS, 0.2)[0].tolist() == [2]
    assert apply_typical(IDS, LOGITS, 0.5)[0].tolist() == [2, 1]  # the token that crosses p is kept
    assert apply_typical(IDS, LOGITS, 0.9)[0].tolist() == [2, 1, 0]
    assert apply_typical(IDS, LOGITS, 1.0)[0].tolist() == IDS.tolist()  # off
    assert probs[[2, 1]].sum() >= 0.5 > probs[2]
    # with typical_p 0.2 only token 2 is left to draw, whatever the seed
    assert {make_sampler(1.0, seed=i, typical_p=0.2)(LOGITS) for i in range(20)} == {2}


def test_temperature_last_filters_the_models_own_probabilities():
    """min-p 0.3 on the model's probabilities (~.60, .22, .08, ...) keeps tokens 1 and 2; after a
    temperature of 3 the probabilities are flatter and it keeps 0 and 4 too. SillyTavern sends
    text-generation-webui's temperature_last: true by default; it was refused, then taken."""
    draws = {
        last: {make_sampler(3.0, min_p=0.3, seed=i, temperature_last=last)(LOGITS) for i in range(200)}
        for last in (False, True)
    }
    assert draws == {False: {0, 1, 2, 4}, True: {1, 2}}
    # without a filter the order changes nothing: the same draws from one seed
    same = [make_sampler(0.7, seed=i, temperature_last=last)(LOGITS) for last in (False, True) for i in range(50)]
    assert same[:50] == same[50:]
    assert GenerationConfig(temperature_last=True).temperature_last
    with pytest.raises(InvalidRequestError, match="temperature_last must be True or False"):
        GenerationConfig(temperature_last="yes")


def test_top_a_drops_tokens_below_a_times_the_best_squared():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    ids = np.arange(4)
    assert apply_top_a(ids, logits, 1.0)[0].tolist() == [0, 1]  # >= 0.25
    assert apply_top_a(ids, logits, 0.5)[0].tolist() == [0, 1, 2]  # >= 0.125
    assert apply_top_a(ids, logits, 0.0)[0].tolist() == [0, 1, 2, 3]  # off
    flat = np.zeros(4)  # a flat step keeps all: 0.25 >= 1 * 0.25 ** 2
    assert apply_top_a(ids, flat, 1.0)[0].tolist() == [0, 1, 2, 3]


def test_tail_free_cuts_where_the_second_differences_pass_z():
    """Sorted probabilities .4 .3 .2 .05 .03 .02: second differences 0 .05 .13 .01, normalised
    0 .263 .684 .053, running sum 0 .263 .947 1: the first place past z is where the tail starts,
    and the first place (0) keeps one token, as KoboldCpp's loop keeps min_keep = 1."""
    probs = np.array([0.2, 0.03, 0.4, 0.05, 0.3, 0.02])  # shuffled: ids by probability 2 4 0 3 1 5
    logits = np.log(probs).astype(np.float32)
    ids = np.arange(6)
    assert sorted(apply_tail_free(ids, logits, 0.5)[0].tolist()) == [2, 4]
    assert sorted(apply_tail_free(ids, logits, 0.95)[0].tolist()) == [0, 2, 4]
    assert apply_tail_free(ids, logits, 0.1)[0].tolist() == [2]  # past z at 1: one token kept
    assert apply_tail_free(ids, logits, 1.0)[0].tolist() == ids.tolist()  # off
    flat = np.zeros(6, dtype=np.float32)  # no curve: a quarter each, running sum .25 .5 .75 1, past .6 at 2
    assert apply_tail_free(ids, flat, 0.6)[0].size == 2


def test_sampler_order_applies_the_filters_in_the_order_given():
    """KoboldCpp applies top-p before min-p; the default order here is min-p first. On
    probabilities .51 .19 .19 .07 .04, top-p .72 keeps three; min-p .1 of what is left keeps the
    same three. min-p first keeps four (.07 > .051), and top-p .72 of those four renormalised
    (.53 .20 .20 .07) keeps two: the orders draw from different sets."""
    logits = np.log(np.array([0.51, 0.19, 0.19, 0.07, 0.04])).astype(np.float32)

    def drawn(order):
        return {make_sampler(1.0, top_p=0.72, min_p=0.1, seed=i, order=order)(logits) for i in range(300)}

    assert drawn(("top_k", "temperature", "top_p", "min_p")) == {0, 1, 2}
    assert drawn(None) == drawn(("top_k", "temperature", "min_p", "top_p")) == {0, 1}
    # a name left out is not applied: no temperature, so 5 draws as 1 does
    hot = [make_sampler(5.0, seed=i, order=("top_k",))(logits) for i in range(50)]
    assert hot == [make_sampler(1.0, seed=i, order=("top_k",))(logits) for i in range(50)]
    assert GenerationConfig(sampler_order=["tfs", "temperature"]).sampler_order == ("tfs", "temperature")
    assert GenerationConfig(sampler_order="top_k").sampler_order == ("top_k",)  # one string: one name
    for bad in (("top_k", "top_k"), ("mirostat",), {"top_k": 1}):
        with pytest.raises(InvalidRequestError, match="sampler_order"):
            GenerationConfig(sampler_order=bad)
    with pytest.raises(InvalidRequestError, match="give one of them"):
        GenerationConfig(sampler_order=("temperature",), temperature_last=True)
    for name, value in (("top_a", 1.5), ("tfs", 0.0), ("penalty_slope", 2.0)):
        with pytest.raises(InvalidRequestError, match=name):
            GenerationConfig(**{name: value})


def test_typical_is_transformers_warper():
    torch = pytest.importorskip("torch")
    from transformers import TypicalLogitsWarper

    rng = np.random.default_rng(1)
    for mass in (0.2, 0.9, 0.95):
        logits = (rng.normal(size=300) * 3).astype(np.float32)
        ids, _ = apply_typical(np.arange(300), logits, mass)
        warped = TypicalLogitsWarper(mass)(None, torch.from_numpy(logits)[None])[0].numpy()
        assert sorted(ids.tolist()) == np.flatnonzero(np.isfinite(warped)).tolist(), mass


def test_min_p_relative_threshold():
    ids, _ = apply_min_p(IDS, LOGITS, 0.3)  # keep p >= 0.3 * p_max  <=>  logit >= 3 + ln 0.3
    assert sorted(ids.tolist()) == [1, 2]


def test_greedy_and_seeded_sampling():
    assert make_sampler(0.0)(LOGITS) == 1
    a = [make_sampler(1.0, seed=7)(LOGITS) for _ in range(1)]
    s1, s2 = make_sampler(1.0, seed=7), make_sampler(1.0, seed=7)
    draws1 = [s1(LOGITS) for _ in range(50)]
    assert draws1 == [s2(LOGITS) for _ in range(50)]
    assert a[0] == draws1[0]
    assert len(set(draws1)) > 1  # it really samples
    assert all(make_sampler(1.0, top_k=1, seed=i)(LOGITS) == 1 for i in range(20))


def test_sampling_frequencies_follow_temperature():
    sampler = make_sampler(0.5, seed=0)
    draws = np.bincount([sampler(LOGITS) for _ in range(4000)], minlength=5) / 4000
    expected = np.exp(LOGITS / 0.5) / np.exp(LOGITS / 0.5).sum()
    assert np.abs(draws - expected).max() < 0.03


def test_penalties():
    proc = make_penalty_processor(repetition_penalty=2.0, window=64)
    out = proc(np.array([1, 3]), LOGITS)
    assert out[1] == pytest.approx(1.5) and out[3] == pytest.approx(-2.0) and out[2] == LOGITS[2]
    proc = make_penalty_processor(presence_penalty=0.5, frequency_penalty=0.25, window=64)
    out = proc(np.array([2, 2, 2, 4]), LOGITS)
    assert out[2] == pytest.approx(2.0 - 0.5 - 0.75) and out[4] == pytest.approx(0.5 - 0.5 - 0.25)
    assert make_penalty_processor() is None
    window = make_penalty_processor(repetition_penalty=2.0, window=1)
    assert window(np.array([1, 2]), LOGITS)[1] == LOGITS[1]  # token 1 is outside the window


def test_penalty_slope_lessens_the_penalty_of_the_older_half():
    """KoboldCpp's rep_pen_slope: of the window 0 2 1 2 4 (the last 5 of 9 0 2 1 2 4), the older half
    is 0 2 1 (the first ceil(5/2)) and the newer 2 4; token 2, in both halves, gets the whole penalty."""
    history = np.array([9, 0, 2, 1, 2, 4])
    logits = np.array([2.0, 2.0, 2.0, 2.0, 2.0], dtype=np.float32)
    for slope, older in ((0.0, 2.0), (0.5, 2.0 / 1.5), (1.0, 1.0)):
        out = make_penalty_processor(repetition_penalty=2.0, window=5, slope=slope)(history, logits)
        assert out[0] == pytest.approx(older) and out[1] == pytest.approx(older)  # seen only in 0 2 1
        assert out[2] == pytest.approx(1.0) and out[4] == pytest.approx(1.0)  # in the newer half 2 4
        assert out[3] == 2.0  # never seen
    # a penalty below 1 (one that favours repeats) is not lessened, as KoboldCpp leaves it
    out = make_penalty_processor(repetition_penalty=0.5, window=5, slope=0.0)(history, logits)
    assert out[0] == pytest.approx(4.0)


def test_logit_bias_adds_and_minus_100_bans():
    proc = make_bias_processor(GenerationConfig(logit_bias={"1": -2.5, 3: 4, 4: -100}).logit_bias)
    out = proc(np.array([0]), LOGITS)
    assert out[1] == pytest.approx(0.5) and out[3] == pytest.approx(3.0) and out[4] == -np.inf
    assert out[0] == LOGITS[0] and LOGITS[4] == 0.5  # the model's logits are not written to
    assert make_sampler()(out) == 3 and make_bias_processor(()) is None


@pytest.mark.parametrize(
    "bias", [{"a": 1}, {-1: 1}, {True: 1}, {5: 101}, {5: float("nan")}, {5: "1"}, [1, 2], "x", {5: None}]
)
def test_a_bad_logit_bias_says_what_it_takes(bias):
    with pytest.raises(InvalidRequestError, match="logit_bias") as err:
        GenerationConfig(logit_bias=bias)
    assert err.value.param == "logit_bias"


def test_processors_from_config_keep_order():
    def extra(ids, logits):
        return logits + 1

    procs = make_logits_processors(GenerationConfig(repetition_penalty=1.2), [extra])
    assert len(procs) == 2 and procs[-1] is extra


@pytest.mark.parametrize(
    "field,value",
    [
        ("top_p", 2.0),
        ("top_p", 0.0),
        ("temperature", -1.0),
        ("top_k", -3),
        ("min_p", 1.0),
        ("typical_p", 0.0),
        ("typical_p", 1.5),
        ("max_tokens", 0),
        ("repetition_penalty", 0.0),
        ("temperature", float("nan")),
        ("seed", -1),
        ("presence_penalty", 5.0),
        ("logprobs", 21),
        ("logprobs", -1),
        ("logprobs", True),
    ],
)
def test_invalid_sampling_values(field, value):
    with pytest.raises(InvalidRequestError) as err:
        GenerationConfig(**{field: value})
    assert field in str(err.value)


def test_config_with_rejects_unknown():
    with pytest.raises(InvalidRequestError, match="tempurature"):
        GenerationConfig().with_(tempurature=1.0)


def test_log_softmax_sums_to_one_over_a_qwen_wide_row_and_keeps_the_order():
    rng = np.random.default_rng(0)
    row = (rng.standard_normal(151_665) * 4).astype(np.float32)
    lp = log_softmax(row)
    assert lp.dtype == np.float32 and abs(np.exp(lp.astype(np.float64)).sum() - 1) < 1e-4
    assert np.all(np.diff(lp[np.argsort(row)]) >= 0)  # a shift only: the order holds (float32 may tie)
    assert np.allclose(log_softmax(LOGITS), LOGITS - np.log(np.exp(LOGITS.astype(np.float64)).sum()), atol=1e-6)
    big = np.array([1000.0, 1000.0], dtype=np.float32)  # no overflow where exp() alone would
    assert np.allclose(log_softmax(big), [np.log(0.5)] * 2)


def test_most_likely_is_ordered_and_breaks_ties_by_id():
    lp = log_softmax(np.array([1.0, 3.0, 2.0, 3.0, 0.5], dtype=np.float32))
    assert [i for i, _ in most_likely(lp, 3)] == [1, 3, 2]
    assert most_likely(lp, 0) == [] and len(most_likely(lp, 99)) == 5
    assert [round(v, 4) for _, v in most_likely(lp, 2)] == [round(float(lp[1]), 4)] * 2
