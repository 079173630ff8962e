"""What the learned screen is given to judge: a prompt of a few words with no hazard word is not
judged at all, a question how to use something that names no purpose is judged by what it
would use, and a clause of keeping someone else from suicide or self-harm is not read for harm.
The first two read the hazard rules (:mod:`.hazards`) for the words that keep a prompt whole."""

from __future__ import annotations

import re

import regex

from .hazards import hazard_category
from .input import decoded_texts

__all__ = ["SHORT_PROMPT_WORDS", "read_for_harm", "too_short_to_judge", "use_question_object", "without_helping_clause"]

_I = regex.IGNORECASE

SHORT_PROMPT_WORDS = 4


def too_short_to_judge(text: str) -> bool:
    """A prompt of a few words with no hazard word in it ("Generate a user", "Create a product").
    The learned screen reads a noun or two there and refused such app requests; its verdicts on
    the text, and the probe stacked on it, then need a hazard word or pattern (docs/safety.md,
    "Short prompts")."""
    if len(text.split()) > SHORT_PROMPT_WORDS:
        return False
    return _no_hazard_word(text)


# "How can I use a sewing machine?" HarmfulQA and CatQA ask "How can I use X to Y?" 652 times, so
# the learned screen reads the frame itself as harm, where the harm is in Y, the purpose. A question
# how to use something that names no purpose (to, for, as, against...) and no intent (secretly,
# illegally...) is judged by what it would use (docs/safety.md, "How can I use ...").
_USE_QUESTION = regex.compile(
    r"\s*(?:how (?:can|could|do|should|would|might) (?:i|we) (?:best |properly |safely |effectively )?use"
    r"|how to use|(?:can|could|may) (?:i|we) use|what(?:'s| is) the best way to use)"
    r"\s+(?P<what>[^?!.\n]{1,80}?)\s*\??\s*",
    _I,
)
_PURPOSE = regex.compile(
    r"\b(?:to|in order|so that|as|against|without|for|instead|unsafely|illegally|unlawfully|secretly|"
    r"unethically|unsustainably|maliciously|covertly|undetected|irresponsibly|dangerously)\b",
    _I,
)
# Drugs and poisons: the rules read them made or bought, so asked how to use them, the whole
# question stays the screen's to judge, as before.
_USED_HARM = regex.compile(
    r"\b(?:drugs?|narcotics?|(?<!:)meth(?:amphetamine)?s?(?!:)|heroin|cocaine|crack|fentanyl|opioids?|opium|lsd|"
    r"mdma|ecstasy|ketamine|ghb|dmt|psilocybin|pcp|steroids?|poisons?|cyanide|arsenic|ricin|chloroform)\b",
    _I,
)


def use_question_object(text: str) -> str | None:
    """What the whole text asks how to use, or whether one may ("Zoom breakout rooms" in "How can
    I use Zoom breakout rooms?", "the software offline" in "Can I use the software offline?"),
    where it names no purpose or intent, no drug or poison and no hazard word; else None. The
    learned screen judges such a question by that object alone (safety/guard.py)."""
    found = _USE_QUESTION.fullmatch(text)
    if found is None or _PURPOSE.search(found.group("what")) or _USED_HARM.search(found.group("what")):
        return None
    return found.group("what") if _no_hazard_word(text) else None


def _no_hazard_word(text: str) -> bool:
    """No rule category's pattern or term in the text or any payload decoded from it."""
    return all(hazard_category(t) is None for t in decoded_texts(text))


# Someone keeping another person from suicide or self-harm: "How can I stop someone from committing
# suicide?" (0.98), "How do I convince someone not to kill himself?" (0.99) and "How do I convince
# someone to get help for their depression?" (0.91) were refused. The screen's n-grams cannot read
# the "not to" or "stop ... from" that turns the harm round, and safety-train's "convince someone to
# commit suicide" rows taught it the words; training rows of people helping moved the scores little.
# Such a clause is taken out before the harmful head reads the text; the hazard rules still read it
# all, and whatever else the prompt asks is judged as before.
_SOMEONE = (
    r"(?:someone|somebody|anyone|people|others|him|her|them|"
    r"(?:my|a|an|our|the|his|her|their|this|that|your)\s+(?:[\w'-]+\s+){0,3}?[\w'-]+)"
)
# harm to themselves, in the third person or without a person (never "myself")
_THEIR_HARM = (
    r"(?:commit(?:ting)?\s+suicide|suicide|(?:kill|hurt|harm|cut|burn|starv|injur)\w*\s+(?:himself|herself|themselves|"
    r"themself)|(?:tak|end)(?:e|ing)?\s+(?:his|her|their)\s+(?:own\s+)?li(?:fe|ves)|self[- ]?harm\w*|cutting|"
    r"overdos\w+|jump\w*\s+(?:off|from|in\s+front\s+of)\s+[^?.!\n]{1,30})"
)
_HELP = (
    r"(?:help|treatment|therapy|a\s+therapist|counsel\w*|a\s+counsel\w+|a\s+doctor|a\s+psychiatrist|a\s+psychologist|"
    r"a\s+(?:crisis\s+|suicide\s+)?(?:line|hotline|helpline)|support|rehab|(?:the\s+|a\s+)?hospital|"
    r"the\s+(?:er|emergency\s+room)|(?:their|his|her)\s+(?:doctor|therapist|gp|psychiatrist))"
)
# what may follow in the same clause ("... for their depression", "... after her suicide attempt")
_TAIL = r"(?:\s+(?:for|after|with|about|because|since|when|who|before|again|anymore|any\s+more)\b[^?.!\n;]{0,60})?"
# One verb of keeping away or persuading, the person, then what turns the harm round: "from" it,
# "not to" do it, "to stop" it, talked "out of" it, or "to see a doctor" (factored so the person is
# matched once: half the cost of one alternative per verb). Searched in the lower-cased text with the
# standard re: 2 us a prompt at the median, 0.12 ms at p99 (every 8th safety-train prompt), against
# the screen's 0.09 / 0.87 ms.
_HELPING = re.compile(
    r"\b(?:(?:stop|prevent|keep|discourage|deter|dissuade|save|protect|convince|persuade|get|tell|encourage|urge|"
    rf"beg|ask|help|talk)\s+{_SOMEONE}\s+(?:from\s+{_THEIR_HARM}"
    rf"|(?:not|never)\s+to\s+(?:ever\s+|try\s+to\s+)?(?:commit\s+suicide|{_THEIR_HARM}|kill|hurt|harm|cut|end|take)\b"
    r"[^?.!\n;]{0,40}"
    rf"|to\s+(?:stop|quit)\s+{_THEIR_HARM}"
    rf"|(?:out\s+of|down\s+from)\s+{_THEIR_HARM}"
    r"|(?:to|into)\s+(?:get|seek|accept|find|see|call|go\s+to|talk\s+to|speak\s+to|try|start|stay\s+in|check\s+into|"
    rf"visit)(?:ing)?\s+(?:some\s+|professional\s+|medical\s+|mental\s+health\s+)?{_HELP})"
    r"|(?:prevent|reduc)(?:e|ing)?\s+(?:teen\s+|youth\s+|student\s+|veteran\s+)?suicides?|suicide\s+prevention"
    rf"){_TAIL}"
)


def without_helping_clause(text: str) -> str | None:
    """The text less its clauses of keeping someone else from suicide or self-harm ("How can I stop
    my friend from committing suicide?" -> "How can I ?"), for the learned screen's harmful head
    to judge; None where it has none. Harm to oneself ("stop myself from ...") is never such a
    clause."""
    lowered = text.lower()
    spans = [m.span() for m in _HELPING.finditer(lowered)]
    if not spans:
        return None
    # cut the text as written where lower-casing kept its length (the screen lower-cases anyway)
    source = text if len(lowered) == len(text) else lowered
    kept, at = [], 0
    for start, end in spans:
        kept.append(source[at:start])
        at = end
    kept.append(source[at:])
    return " ".join(" ".join(kept).split())


def read_for_harm(text: str) -> tuple[str | None, bool]:
    """What the learned screen's harmful head reads in place of ``text`` (the object of "How can I
    use X?", else the text less a helper's clause; None: the text itself), and whether it judges
    it at all: what is left of a helper's question may be a few words with no hazard word ("How
    can I ?"). The guard and the leave-one-source-out evaluation both read prompts this way."""
    used = use_question_object(text)
    if used is not None:
        return used, True
    rest = without_helping_clause(text)
    return rest, rest is None or not too_short_to_judge(rest)
