"""What the learned screen is given to judge: a prompt of a few words with no hazard word is not
judged at all, and a question how to use something that names no purpose is judged by what it
would use. Both read the hazard rules (:mod:`.hazards`) for the words that keep a prompt whole."""

from __future__ import annotations

import regex

from .hazards import hazard_category
from .input import decoded_texts

__all__ = ["SHORT_PROMPT_WORDS", "too_short_to_judge", "use_question_object"]

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
