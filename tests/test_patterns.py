"""A pattern llguidance cannot read decodes by its nearest superset, not by any string at all."""

from __future__ import annotations

import re

import pytest
import regex
from grammars import grammar_takes
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeqwen.errors import GrammarError
from edgeqwen.runtime.check import check
from edgeqwen.runtime.formats import ResponseFormat
from edgeqwen.runtime.grammar import _rejected
from edgeqwen.runtime.matcher import over_limit
from edgeqwen.runtime.patterns import (
    MAX_REGEX_SIZE,
    _unread_size,
    lark_too_large,
    loosened_patterns,
    regex_size,
    small_counts,
    too_large,
)
from edgeqwen.runtime.relax import relax


def _decodes(schema: dict, value: str) -> bool:
    return grammar_takes(relax(schema).grammar, value)


# CloudFormation's resource schemas (cfn-lint 1.58's copies): a nil UUID refused by a look-ahead,
# Python's \A...\Z, a word boundary; each was dropped from the grammar whole before
IDS = [
    ("^(?!00000000-0000-0000-0000-000000000000)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
     "2f1c9a3e-0b7d-4c1e-9f00-5d2a8b7c6e41", "not-a-uuid", "00000000-0000-0000-0000-000000000000"),
    (r"\A[0-9a-zA-Z-_]+\Z", "origin-endpoint_1", "two words", None),
    (r"^(\bTSTALIASID\b|[0-9a-zA-Z]+)$", "TSTALIASID", "TST-ALIAS", None),
]  # fmt: skip


@pytest.mark.parametrize(("pattern", "valid", "outside", "only_the_check_refuses"), IDS)
def test_a_pattern_with_assertions_decodes_by_the_pattern_without_them(pattern, valid, outside, only_the_check_refuses):
    schema = {"type": "string", "pattern": pattern}
    relaxed = relax(schema)
    assert "pattern" in relaxed.checked_after  # the schema's own pattern is still the check's
    assert _decodes(schema, valid) and check(valid, schema) is None
    assert not _decodes(schema, outside)  # any string decoded here before
    if only_the_check_refuses is not None:
        assert _decodes(schema, only_the_check_refuses) and check(only_the_check_refuses, schema) is not None


def test_a_pattern_with_a_backreference_is_still_left_to_the_check():
    schema = {"type": "string", "pattern": r"^(a+)-\1$"}
    assert not list(loosened_patterns(schema["pattern"]))
    assert _decodes(schema, "b") and check("b", schema) is not None and check("aa-aa", schema) is None


def test_only_assertions_go_and_an_anchor_only_where_none_else_works():
    assert list(loosened_patterns("^[a-z]+$")) == []  # nothing to remove
    assert list(loosened_patterns(r"^x(?!a){2}[\b(]y\Z")) == [r"^x[\b(]y\z"]  # its quantifier too; [\b] is a class
    assert list(loosened_patterns(r'"^arn:\w+(?=:)$"')) == [r'"^arn:\w+$"', r'"arn:\w+"']
    assert list(loosened_patterns(r"^a(?<=(b|[)])c)d")) == ["^ad"]  # a parenthesis in a class closes nothing
    assert list(loosened_patterns(r"^a(?<=(b|[)]c)")) == []  # the look-behind never closes: nothing written


_PIECES = st.sampled_from(
    ["a", "b", " ", "[ab]", "[^a]", ".", r"\b", r"\B", "^", "$", r"\A", r"\Z", "(?=a)", "(?!b)", "(?<=a)",
     "(?<!b)", "(?=a|b )", "(?!(a))"]
)  # fmt: skip


@st.composite
def _patterns(draw, depth: int = 2) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 5))):
        piece = draw(_PIECES) if depth == 0 or draw(st.booleans()) else f"({draw(_patterns(depth - 1))})"
        parts.append(piece + draw(st.sampled_from(["", "", "*", "+", "?", "{2}", "{0,2}"])))
    alternative = "".join(parts)
    return alternative if depth == 0 or draw(st.booleans()) else f"{alternative}|{draw(_patterns(depth - 1))}"


@settings(max_examples=300, deadline=None)
@given(_patterns(), st.lists(st.text("ab c", max_size=8), min_size=1, max_size=8))
def test_every_string_the_pattern_matches_its_loosened_patterns_match(pattern, texts):
    try:
        original = regex.compile(pattern)
    except regex.error:
        return  # a quantified anchor the regex module refuses: no schema holds it
    for loose in loosened_patterns(pattern):
        assert not any(a in loose for a in ("(?=", "(?!", "(?<", r"\b", r"\B", r"\Z"))
        # \z is written for llguidance (Rust's end of text); Python's regex read it only from 2026.2
        # and says the same with \Z, which is all this comparison needs
        compiled = regex.compile(loose.replace(r"\z", r"\Z"))
        for text in texts:
            try:  # nested repeats backtrack: under regex 2023.3 this test stalled for minutes
                if original.search(text, timeout=1):
                    assert compiled.search(text, timeout=1), (pattern, loose, text)
            except TimeoutError:
                continue


# ECMA-262 (JSON Schema's dialect): \d and \w ASCII, \s its WhiteSpace and LineTerminator set. As
# JSON Schema's test suite (optional/ecmascript-regex) writes them: NKO digit zero, e-acute, the
# byte order mark (U+FEFF, whitespace to ECMA, not to Unicode) and NEL (U+0085, the other way).
CHARS = {"5", "\u07c0", "é", "_", " ", "\ufeff", "\xa0", "\x85", "\u2003"}
SPACE = {" ", "\ufeff", "\xa0", "\u2003"}
ECMA = [
    (r"^\d$", {"5"}), (r"^\D$", CHARS - {"5"}),
    (r"^\w$", {"5", "_"}), (r"^\W$", CHARS - {"5", "_"}),
    (r"^\s$", SPACE), (r"^\S$", CHARS - SPACE),
    (r"^[\d_]$", {"5", "_"}), (r"^[^\s]$", CHARS - SPACE),
]  # fmt: skip


@pytest.mark.parametrize(("pattern", "matches"), ECMA)
def test_class_escapes_mean_what_ecma_262_means_to_the_grammar_and_the_check(pattern, matches):
    """The check read \\d and \\w as Unicode ("߀" a digit, "é" a word character: refused where a
    pattern's \\D allowed them, accepted where its \\w did not) and, like llguidance, \\s as
    Unicode's White_Space."""
    schema = {"type": "string", "pattern": pattern}
    for char in sorted(CHARS):
        assert (check(char, schema) is None) is (char in matches), (pattern, char)
        assert _decodes(schema, char) is (char in matches), (pattern, char)


def test_a_dollar_matches_only_at_the_end_as_in_ecma_262():
    """Python's ``$`` also matches before a final newline: "USD\\n" passed ``^[A-Z]{3}$`` in the
    check, which alone guards an answer on MLC or a remote server (llguidance never wrote it)."""
    schema = {"type": "string", "pattern": "^[A-Z]{3}$"}
    assert check("USD", schema) is None and _decodes(schema, "USD")
    assert check("USD\n", schema) is not None and not _decodes(schema, "USD\n")
    assert check("a$b", {"type": "string", "pattern": "^a[$]b$"}) is None  # a "$" in a set is the character


@pytest.mark.parametrize("pattern", [r"^\cC$", r"^\cc$"])
def test_a_control_escape_is_the_control_character(pattern):
    """ECMA-262's ``\\cX`` (JSON Schema's test suite writes ``\\cC``): neither Python's ``regex`` nor
    llguidance reads it, and the schema was refused as invalid."""
    schema = {"type": "string", "pattern": pattern}
    assert relax(schema).exact
    assert check("\x03", schema) is None and _decodes(schema, "\x03")
    assert check("cC", schema) is not None and not _decodes(schema, "cC")


# -- size: a count is built piece by piece ------------------------------------------------------
SIZES = [
    ("a{1000}", 1000), ("a{0,1000000}", 1), ("a{1000,2000000}", 1000), ("(ab|cd){10}", 40),
    ("(a{100}){100}", 10_000), (r"\p{L}{50}", 50), (r"^\d{4}-\d{2}-\d{2}$", 12), ("a{99999999}", 99_999_999),
]  # fmt: skip


@pytest.mark.parametrize(("pattern", "size"), SIZES)
def test_a_pattern_is_sized_by_the_repetitions_its_counts_require(pattern, size):
    assert regex_size(pattern) == size


@settings(max_examples=200, deadline=None)
@given(_patterns(), st.integers(2, 60))
def test_a_count_multiplies_the_size_of_what_it_repeats_and_an_unread_pattern_is_never_sized_smaller(pattern, n):
    try:
        re.compile(pattern)
    except re.error:  # a quantified anchor: sized from the text, below
        assert _unread_size(pattern) >= len(pattern)
        return
    one = regex_size(f"(?:{pattern})")
    assert regex_size(f"(?:{pattern}){{{n}}}") == n * one
    assert regex_size(f"(?:{pattern}){{0,{n}}}") == one  # an upper bound costs what * does
    # syntax Python's parser does not read is sized from the text: never below the parsed size
    assert _unread_size(f"(?:{pattern}){{{n}}}") >= n * one


TOO_LARGE = [
    {"type": "string", "pattern": "^a{20000}$"},
    {"type": "object", "patternProperties": {"^(ab){20000}$": {}}},
    {"type": "object", "properties": {"id": {"type": "string", "pattern": "(x{200}){200}"}}},
    {"type": "object", "propertyNames": {"pattern": "^k{50000}"}},
]


@pytest.mark.parametrize("schema", TOO_LARGE)
def test_a_schema_whose_pattern_is_too_large_to_build_is_refused_before_anything_builds_it(schema):
    """llguidance and the check's ``regex`` module build "a{99999999}" piece by piece: one request
    with it took the server to 25 GB and an out-of-memory kill."""
    with pytest.raises(GrammarError, match="^The JSON Schema's pattern .* is too large to build: .* lower the counts"):
        relax(schema)
    with pytest.raises(GrammarError, match="too large to build"):  # checked directly, without a relax()
        check({}, schema)
    with pytest.raises(GrammarError, match="too large to build"):
        parameters = {"type": "object", "properties": {"x": schema}}
        ResponseFormat.tool_call([{"type": "function", "function": {"name": "f", "parameters": parameters}}]).relaxed()


def test_the_largest_counts_real_schemas_use_still_build():
    hex_digests = "^[a-fA-F0-9]{32}|[a-fA-F0-9]{40}|[a-fA-F0-9]{56}|[a-fA-F0-9]{64}$"
    for pattern, value in (("^[a-fA-F0-9]{128}$", "ab" * 64), (hex_digests, "ab" * 16)):
        schema = {"type": "string", "pattern": pattern}
        assert relax(schema).exact and _decodes(schema, value) and not _decodes(schema, "ab")
    long_list = "^(" + "|".join(f"zone-{i}-az{j}" for i in range(600) for j in range(4)) + ")$"
    assert regex_size(long_list) > MAX_REGEX_SIZE and too_large(long_list, "x") is None  # its length is its cost
    assert relax({"type": "string", "pattern": long_list}).grammar


@pytest.mark.parametrize(
    "build",
    [
        lambda: ResponseFormat.regex("[0-9]{20000}"),
        lambda: ResponseFormat("regex", pattern="(ab|cd){6000}"),
        lambda: ResponseFormat.lark("start: /a{20000}/"),
        lambda: ResponseFormat.lark('start: "a"{20000}'),
        lambda: ResponseFormat.lark("start: x\nX: /[a-z]/\nx: X{30000,40000}"),
    ],
)
def test_a_regex_or_lark_grammar_too_large_to_build_is_refused_when_it_is_given(build):
    with pytest.raises(GrammarError, match="too large to build|repeats a part"):
        build()


def test_what_is_counted_in_a_lark_grammar_is_outside_its_strings():
    assert lark_too_large('start: "{99999}" /[a-z]{3}/ "x"{3}') is None
    assert lark_too_large('start: "a" // a comment: "a"{99999} /a{99999}/\n') is None
    assert ResponseFormat.lark('start: "a"{5000}').grammar
    with pytest.raises(GrammarError, match=r"repeats a part 99,999 times \(~ 99999\)"):
        ResponseFormat.lark('start: "a" ~ 99999')


@pytest.mark.parametrize(
    "grammar",
    [
        'start: A\nA: B{1000}\nB: "a"{1000}',  # 0.5 GB and 1.6 s in llguidance before its first mask
        'start: A\nA: B ~ 3000\nB: "a" ~ 3000',
        'start: A\nA: (B "x"){3000}\nB: /a{3000}/',
        'start: A\nA.2: B{100}\n  | "x"\nB: C{100}\nC: ("abc" | D){100}\nD: "d"',
    ],
)
def test_a_lark_terminal_whose_counts_multiply_through_the_terminals_it_names_is_refused(grammar):
    """Each count stayed under the limit, so the grammar passed, and llguidance built the terminal
    out in full until its own limit stopped it: about 1 GB and 4 s for one request."""
    with pytest.raises(GrammarError, match="terminal A is too large to build: .* make the repeated part a rule"):
        ResponseFormat.lark(grammar)


def test_terminals_named_twice_a_level_or_chained_thousands_long_are_read():
    doubling = "start: T0\n" + "".join(f"T{i}: T{i + 1} T{i + 1}\n" for i in range(40)) + 'T40: "b"\n'
    with pytest.raises(GrammarError, match="terminal T0 is too large to build"):  # 2^40: no count at all
        ResponseFormat.lark(doubling)
    chain = "start: T0\n" + "".join(f'T{i}: T{i + 1} "a"\n' for i in range(5_000)) + 'T5000: "b"\n'
    assert ResponseFormat.lark(chain).grammar  # was a RecursionError: past Python's recursion, linear in size


def test_a_lark_terminal_counts_what_its_counts_require():
    assert lark_too_large('start: A\nA: B{0,3000}\nB: "a"{0,3000}') is None  # {0,N} builds what * does
    assert lark_too_large('start: x\nx: y{1000}\ny: "a"{1000}') is None  # rules: the parser does not build them out
    assert lark_too_large('start: A\nA: B{90}\nB: "a"{100}') is None  # 9,000
    assert lark_too_large('start: A\nA: B{110}\nB: "a"{100}') is not None  # 11,000
    uuid = 'start: UUID\nUUID: HEX{8} "-" HEX{4} "-" HEX{4} "-" HEX{4} "-" HEX{12}\nHEX: /[0-9a-f]/\n'
    assert ResponseFormat.lark(uuid).grammar


def test_format_regex_reads_a_huge_count_as_a_regex_without_building_it():
    """The check reads an answer's ``format: regex`` value with the ``regex`` module; a model asked
    to write "a{99999999}" would have made it build one for gigabytes."""
    schema = {"type": "string", "format": "regex"}
    assert check("a{99999999}", schema) is None
    assert check("(a{99999999}", schema) is not None and check("a{9999999,3}", schema) is not None
    assert small_counts("a{99999999}b{5,}c{2,7}d{7,2}") == "a{1}b{1,}c{1,1}d{1,0}"


def test_a_limit_met_while_decoding_says_what_to_simplify():
    error = _rejected("parser error: Too many items (limit 200000; ff_tokens); try avoiding\n<non-verbose/>", "a token")
    assert "limits" in str(error) and "simplify it" in str(error) and "non-verbose" not in str(error)
    assert over_limit("lexer error: too many expressions constructed")
    assert str(_rejected("parser error: unexpected token", "a token")) == (
        "The grammar rejected a token: parser error: unexpected token"
    )


def test_groups_nested_past_the_parser_s_recursion_are_an_error_that_says_so_not_a_traceback():
    deep = "(" * 1000 + "a" + ")" * 1000
    for build in (lambda: relax({"type": "string", "pattern": deep}), lambda: ResponseFormat.regex(deep)):
        with pytest.raises(GrammarError, match="nests its groups too deeply to read; write it with fewer"):
            build()
    # an answer's format: regex value nested so deep is no regex the check can read: refused, not a
    # GrammarError blaming the schema
    violation = check(deep, {"type": "string", "format": "regex"})
    assert violation is not None and "format" in str(violation)


def test_the_compiled_patterns_kept_are_bounded_by_their_pieces_not_only_their_number():
    """A pattern of 10,000 pieces is 1.4 MB compiled: 1,024 of them (the bound by count alone, and
    the regex module's own cache beside it) were 1.4 GB a server could be made to hold."""
    from edgeqwen.runtime import patterns

    first = patterns.ecma_pattern("^[a-z]{3}$")
    assert patterns.ecma_pattern("^[a-z]{3}$") is first  # kept: read once for every answer
    for i in range(40):
        patterns.ecma_pattern(f"^k{i}" + "a{9000}$")
    assert patterns._kept.total <= patterns._kept.weight == 200_000 and len(patterns._kept) < 40
    assert patterns.ecma_pattern("^k39a{9000}$").fullmatch("k39" + "a" * 9000)
