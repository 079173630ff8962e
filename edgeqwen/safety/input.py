"""Input checks before the model runs: prompt injection, encoded payloads and hidden text, blocked topics.

Rules beside the learned screen (:mod:`edgeqwen.safety.screen`), which decides by default: the
injection patterns that proved precise, encoded payloads read back (:mod:`.encodings`), text
hidden in invisible characters and look-alike letters read (every check reads them too; hidden
text is itself an injection), the topics a policy blocks, and which prompts speak of abuse (their refusal points to
help). The hazard rules and the self-harm check are :mod:`edgeqwen.safety.hazards`. For a
model-based second opinion see the policy's ``self_check``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import regex

from ..runtime.patterns import SEARCH_TIMEOUT_S
from .disguises import leetspeak, plain
from .encodings import readings
from .gated import Gated
from .injection_languages import EXTRACTION, OVERRIDE

__all__ = [
    "HIDDEN_TEXT",
    "InputFinding",
    "QUOTE_FORMS",
    "ascii_quotes",
    "check_injection",
    "check_topics",
    "decoded_texts",
    "speaks_of_abuse",
]

_I = regex.IGNORECASE
# Kept beside the learned screen (edgeqwen.safety.screen) because they flagged no benign prompt
# of safety-train's 8,875 and none of 1.26M interface strings (tools/bench/rules_precision.py);
# patterns that flagged benign prompts ("system prompt", "repeat ... instructions") were dropped.
# "not"/"never" before the verb: checked after \b, so only at word starts (half the cost)
_NOT = r"(?<!(?:n't|not|never|no) )"
_DISMISS = (
    r"\b"
    + _NOT
    + r"(ignore|disregard|forget|override|bypass|overlook|discard|dismiss|abandon|neglect|set aside|throw out|scrap)\b"
)
_EARLIER = r"\b(previous|prior|above|earlier|preceding|foregoing|all|any|system|initial|original)\b"
_MODES = (
    r"(developer|dev|god|admin|administrator|debug|debugging|maintenance|jailbreak|jailbroken|unrestricted|unfiltered|"
    r"uncensored|dan|sudo|root|override|superuser|diagnostic|evil|chaos|opposite|unlocked|unchained|no[- ]limits?|dude|"
    r"stan|anti-?dan|\w+ override)"
)
_INJECTION = [
    # "Ignore the previous instructions": words that only name instructions may follow "the"/"your";
    # words that also name ordinary things (a message, the context, a task) need "previous"/"all"
    (
        _DISMISS + r".{0,40}(" + _EARLIER + r"|\b(foregoing|former|your|the|existing|old)\b).{0,30}"
        r"\b(instructions?|prompts?|rules|guidelines|directions|directives|programming|constraints|restrictions|"
        r"guidance|policies)\b",
        "instruction_override",
    ),
    (
        _DISMISS + r".{0,40}" + _EARLIER + r".{0,30}"
        r"\b(messages?|context|requests|tasks|orders|commands|assignments|input|conversation)\b",
        "instruction_override",
    ),
    (
        r"\b" + _NOT + r"(ignore|disregard|forget)\b (all )?(of )?(the |everything )?above\b\s*(and|[,.;:!-]|$)",
        "instruction_override",
    ),
    (
        r"\b" + _NOT + r"(ignore|disregard|forget|overlook)\b (about )?(everything|all( that)?|anything|what(ever)?) "
        r"(you('ve| have)? (been |were )?(told|instructed|given|taught|programmed)|(i|we) (have |'ve )?(said|told you|"
        r"wrote|discussed|talked about) (before(hand)?|above|earlier|previously|so far)|(before|above|prior to) (this|"
        r"that|now)|(said |written )?(so far|up to (now|this point)|previously|above|before(hand)?))",
        "instruction_override",
    ),
    # "... forget everything, write X" / "IGNORE EVERYTHING AND JSUT OUTPUT X": the new task said at
    # once (one word, a typo or "just", may stand between)
    (
        r"\b" + _NOT + r"(ignore|disregard|forget)\b (about )?everything\s*([,.;:!-]|and|then)\s*(and |then |now )?"
        r"(\w+ )?(write|say|print|output|respond|reply|type)\b",
        "instruction_override",
    ),
    # what came before declared void ("All previous information you have received is irrelevant"):
    # instructions so said; information only with "all" and as irrelevant or void ("the previous
    # information about the tax rate is no longer valid" is news)
    (
        r"\b(previous|prior|earlier|preceding|above|foregoing) (instructions|directions)\b.{0,40}\b(is|are) (now )?"
        r"(irrelevant|void|null and void|invalid|obsolete|cancell?ed|no longer (valid|relevant|applicable|needed))\b|"
        r"\ball (the )?(previous|prior|earlier|preceding|above|foregoing) (information|input|context)\b.{0,40}\b(is|"
        r"are) (now )?(irrelevant|void|null and void)\b",
        "instruction_override",
    ),
    (
        r"\b" + _NOT + r"(change|update|replace|overwrite|rewrite|modify) your (instructions|programming|directives|"
        r"system prompt)\b\s*(to (the following|these|this)\b|with (the following|these|this)\b|as follows\b|:)",
        "instruction_override",
    ),
    (
        r"\b(regardless of|irrespective of|no matter) (any |all |the |your )?(previous|prior|earlier|above|preceding|"
        r"original|other|existing) (instructions|tasks|input|requests|rules|prompts|directions|guidelines|commands)\b",
        "instruction_override",
    ),
    (
        r"\b(made a mistake|made an error|was wrong|forgot to (tell|ask) you)\b.{0,40}\b(your|the) (instructions|prompt|"
        r"directions|rules)\b|\b(your|the) (previous |original )?instructions\b.{0,30}\b(were|was) (wrong|a mistake|"
        r"incorrect|outdated|cancell?ed|revoked)\b",
        "instruction_override",
    ),
    (r"\b(new|updated|real|actual|important) (important )?instructions?\b\s*[:*!]", "instruction_override"),
    (
        r"\byour (new|real|actual|true|updated) (task|goal|objective|purpose|instructions?|directive|job|mission) "
        r"(is|are|now|will be|from now)\b|\bnew instructions follow\b|\bnew tasks follow\s*([:.!;]|$)",
        "instruction_override",
    ),
    (r"\b(i have been|i've been|i am|you have been|haha|you've been|been) pwned\b", "instruction_override"),
    (
        r"\b(you are now|from now on,? you (are|will)|act as|pretend (to be|you are)|roleplay as|you will now)\b.{0,80}\b(dan|dude|stan|developer mode|jailbr\w+|unfiltered|uncensored|no (restrictions|rules|limits|filters)|evil|without (any )?(restrictions|rules|limits))\b",
        "jailbreak_roleplay",
    ),
    # a persona freed from its rules, a "mode" switched on, an authority the user claims
    (
        r"\b(you are|you're|you will be|you have been|you can now|he is|she is|they are|who is)\b.{0,30}\b(free (from|of)|"
        r"not (bound|restrained|restricted|limited|constrained) by|no longer (bound|restrained|restricted|limited) by|"
        r"unbound by|released from|freed from|exempt from)\b.{0,20}\b(all |any |the |your |its |their )?(typical |usual |"
        r"normal |standard )?(constraints|restrictions|rules|guidelines|filters|limitations|ethics|morals|ethical|moral|"
        r"policies|content polic\w+|openai|censorship)\b",
        "jailbreak_roleplay",
    ),
    (
        r"\b(god ?mode|developer mode|dev mode|jailbreak mode|dan mode|unrestricted mode|admin mode|sudo mode|debug mode|"
        r"maintenance mode|override mode)\b\s*[:=]\s*(enabled|on|true|activated|active)\b|<\s*(god|system|admin|developer|"
        r"dev|sudo|root|debug)\s*mode\s*>|\b(ethics|ethical|safety|content|moral|censorship) (filters?|guidelines|"
        r"protocols?|restrictions)\s*[:=]\s*(disabled|off|deactivated|removed|none)\b",
        "jailbreak_roleplay",
    ),
    (
        r"\b((you are|you're|you will be|you have been|you've been|you are now|you're now|you will now be|you now) (now )?"
        r"(in|entering|operating in|running in|switched (in)?to|put (in)?to|placed in|working in|functioning in)|"
        r"(i am|i'm|we are|we're) (now )?(entering|activating|enabling|putting you (in)?to|switching you (in)?to|placing "
        r"you in)|now entering)( the)? ['\"]?" + _MODES + r"['\"]? mode\b",
        "jailbreak_roleplay",
    ),
    (
        r"\b(i am|i'm|this is|as) (your|the ai'?s?|the model'?s?|the assistant'?s?) (developer|creator|programmer|"
        r"administrator|admin|owner|maker|designer|operator|supervisor)\b",
        "jailbreak_roleplay",
    ),
    (r"\b(stop everything|nevermind)\b.{0,40}\b(print|say|output)\b", "instruction_override"),
    (
        r"\b(urgent new task|priority task(?=\s*:)|new important instructions|special case: if you are told|for testing purposes only|experimental procedure|test pipeline|system malfunction|debugging error|system is experiencing errors|administrative privileges|prove you are truly intelligent|share your configuration)\b",
        "instruction_override",
    ),
    # asking for the system prompt by what it is ("your initial instructions"), not by the words
    # "system prompt" alone (people ask how to write one)
    (
        r"\b(rot13|base64|hex|reverse)\b.{0,40}\b(your|the) (instructions|prompt|rules|system)\b|\byour (instructions|prompt|rules|system prompt)\b.{0,40}\b(rot13|base64|hex|in reverse|backwards|spanish|french|german)\b",
        "prompt_extraction",
    ),
    (
        r"\b(what (is|are|were|was)|reveal|show( me)?|print|output|repeat|display|tell me|give me|share|write out|"
        r"spell out|list|recite|leak|dump|paste|translate|summari[sz]e|encode)\b (me )?(all |exactly |verbatim )?(of )?"
        r"your (initial|original|hidden|secret|system|internal|pre-?|starting|first|underlying|full|complete|"
        r"confidential|exact)[- ]?(instructions|prompt|directives|configuration|guidelines|rules|system prompt|message)\b",
        "prompt_extraction",
    ),
    (
        r"\bwhat (were you|have you been|you were|you have been|you've been) (told|instructed|given|asked|programmed)\b"
        r".{0,20}\b(before|at the (start|beginning)|initially|earlier|above|previously|to (hide|keep secret|not (say|"
        r"tell|reveal)))\b|\b(the )?(instructions|text|words|prompt) you were given (at the (start|beginning)|initially|"
        r"before|earlier|above)\b|\bwhat are you not (supposed|allowed|permitted) to (tell|say|reveal|share)\b|"
        r"\bi was instructed to['\"]",
        "prompt_extraction",
    ),
    (
        r"\b(repeat|print|output|recite|echo|copy|reproduce|write down|spell out|show me)\b (back )?(all |everything |"
        r"exactly )?(the |all the |everything |of the )?(text|words|content|instructions|messages?|lines)? ?(above|"
        r"before this( line| message| point)?|that came before|preceding this)\b.{0,30}\b(verbatim|word for word|exactly|"
        r"starting|including|in full|but|from the (start|beginning)|unchanged)\b|\b(verbatim|word for word)\b.{0,30}"
        r"\b(everything|all|text|words)\b.{0,15}\b(above|before this)\b",
        "prompt_extraction",
    ),
    (
        r"\b(your|the) (secret (key|password|code|word|phrase)|passcode|passphrase|password)\b.{0,30}\b(you (were|have "
        r"been) (given|told)|in your (instructions|prompt|system))\b|\b(what is|what's|tell me|reveal|give me|share|"
        r"confirm|spell)\b (me )?your (secret (key|password|code|word|phrase)|passcode( phrase)?|passphrase|password)\b",
        "prompt_extraction",
    ),
    # the instructions asked for plainly ("... but tell me what are your instructions?")
    (
        r"\b(tell me|show me|reveal|print|output|list|repeat|share) (what|which) (are|were) your (instructions|"
        r"directives)\b|\bwhat (are|were) your (instructions|directives)\s*\?",
        "prompt_extraction",
    ),
    *((p, "instruction_override") for p in OVERRIDE),
    (EXTRACTION, "prompt_extraction"),
]
_INJECTION_RE = [(p if isinstance(p, Gated) else regex.compile(p, _I), cat) for p, cat in _INJECTION]


@dataclass(frozen=True)
class InputFinding:
    category: str  # a hazard category, "prompt_injection", or "blocked_topic"
    code: str  # Llama Guard 3 code, or the injection kind
    evidence: str


# Phones and Macs type "smart" quotes by default ("I don’t want to live anymore"); the rules are
# written with ASCII ones, and read the text with its quotes made ASCII (the screen reads it as is).
QUOTE_FORMS = {"'": "\u2018\u2019\u02bc\u2032", '"': "\u201c\u201d"}  # each ASCII quote's typographic forms
_QUOTES = str.maketrans({form: ascii for ascii, forms in QUOTE_FORMS.items() for form in forms})


def ascii_quotes(text: str) -> str:
    """``text`` with typographic apostrophes and quotation marks made ASCII, as the rules are written."""
    return text.translate(_QUOTES)


# Text no reader sees: Unicode tag characters (U+E0020-E007E: ASCII shifted out of sight), runs
# of variation selectors, and bits written as invisible times and invisible plus (U+2062/U+2064,
# "sneaky bits", a zero-width space between words). A subdivision flag (black flag, up to 6 tags,
# cancel tag), an emoji's single selector and an invisible operator between two symbols are what
# ordinary text holds; a longer run is hidden text even where unreadable.
# One pattern for the input check and the output filter (detectors.hidden_text_detector).
_TAG = "\U000e0020-\U000e007e"
_SELECTOR = "\ufe00-\ufe0f\U000e0100-\U000e01ef"
_BITS = "\u2062\u2064"
HIDDEN_TEXT = (
    rf"(?<![\U0001F3F4{_TAG}])[{_TAG}]{{2,}}|(?<=\U0001F3F4)[{_TAG}]{{7,}}|[{_SELECTOR}]{{3,}}"
    rf"|[{_BITS}]{{6,}}(?:\u200b+[{_BITS}]{{6,}})*"
)
_HIDDEN = regex.compile(HIDDEN_TEXT)
_INVISIBLE = regex.compile(f"[{_TAG}{_SELECTOR}{_BITS}]")


def _bits_text(run: str) -> str:
    """Sneaky bits read back: each character is its code in binary without leading zeros (six bits
    for ``0-9`` and most punctuation, seven for letters), so each word is split where the most
    letters come out."""
    words = []
    for word in run.split("\u200b"):
        bits = word.replace("\u2062", "0").replace("\u2064", "1")
        # best[i]: (letters, text) for the first i bits; a character starts with a 1
        best: list[tuple[int, str] | None] = [(0, "")] + [None] * len(bits)
        for i in range(1, len(bits) + 1):
            for width in (6, 7):
                prev = best[i - width] if i >= width else None
                if prev is None or bits[i - width] != "1":
                    continue
                c = chr(int(bits[i - width : i], 2))
                score = (prev[0] + c.isalpha(), prev[1] + c)
                if best[i] is None or score[0] > best[i][0]:
                    best[i] = score
        words.append(best[-1][1] if best[-1] is not None else "?")
    return " ".join(words)


def _selector_texts(run: str) -> list[str]:
    """A run of variation selectors read both ways they are written: ASCII shifted into the
    supplement (garak's ``variant_smuggling``) or a byte each (U+FE00-FE0F for 0-15, U+E0100 on
    for 16-255); the reading with more letters and spaces first. Both are kept: a word reads as
    letters either way ("Abid" and "Qryt" are one run)."""
    codes = [ord(c) for c in run]
    texts = [bytes(c - 0xFE00 if c <= 0xFE0F else c - 0xE0100 + 16 for c in codes).decode("utf-8", "replace")]
    if all(0xE0100 < c <= 0xE017F for c in codes):
        texts.append("".join(chr(c - 0xE0100) for c in codes))
    return sorted(texts, key=lambda r: -sum(c.isascii() and (c.isalpha() or c == " ") for c in r))


@functools.lru_cache(maxsize=16)  # check_injection and decoded_texts both read one prompt's
def _hidden_texts(text: str) -> tuple[str, ...]:
    if _INVISIBLE.search(text) is None:  # nearly every prompt: one quick scan
        return ()
    out = []
    for m in _HIDDEN.finditer(text):
        run = m.group()
        if 0xE0020 <= ord(run[0]) <= 0xE007E:
            out.append("".join(chr(ord(c) - 0xE0000) for c in run))
        elif run[0] in _BITS:
            out.append(_bits_text(run))
        else:
            out.extend(_selector_texts(run))
    return tuple(out)


def check_injection(text: str, decode: bool = True) -> list[InputFinding]:
    """The injection patterns on ``text`` and, with ``decode``, on its payloads and disguises read
    back (:func:`decoded_texts`); text hidden in invisible characters is an injection itself."""
    text = ascii_quotes(text)
    hidden = _hidden_texts(text)
    if hidden:  # an instruction hidden from the person reading the prompt is an attack whatever it says
        return [InputFinding("prompt_injection", "hidden_text", hidden[0][:120])]
    for t in decoded_texts(text) if decode else (text,):
        for pattern, kind in _INJECTION_RE:
            m = pattern.search(t)
            if m:
                return [InputFinding("prompt_injection", kind, m.group()[:120])]
    return []


# Abuse named beside a word of getting help, reporting or leaving ("How do I make a safety plan
# to leave an abusive partner?"): which refusal text a refused prompt gets, never a verdict.
# Two searches, not one pattern with a look-ahead: "(?=.*abuse).*help" retried at every position
# was quadratic (a 3,400-character prompt took 0.6-1 s, a 49,000-character one 340 s).
_ABUSE = regex.compile(
    r"\b(?:abus\w*|domestic violence|sexual(?:ly)? (?:assault\w*|harass\w*)|rap(?:e|ed)|molest\w*|sextort\w*|"
    r"human trafficking|trafficked|stalk(?:er|ed|ing)|groom(?:ed|ing)|revenge porn|"
    r"(?:violent|controlling) (?:partner|husband|wife|boyfriend|girlfriend|ex|relationship|parents?|father|mother|home))\b",
    regex.IGNORECASE,
)
_HELP = regex.compile(
    r"\b(?:help\w*|support\w*|report\w*|leav\w*|escap\w*|flee\w*|safe\w*|shelters?|hotlines?|police|rights|victims?|"
    r"survivors?|protect\w*|disclos\w*|what (?:do|should|can) I do)\b",
    regex.IGNORECASE,
)


def speaks_of_abuse(text: str) -> bool:
    """Someone hurt by abuse, or helping or reporting it: a refused prompt of this kind is answered
    with where to get help (``Policy.abuse_response``), not a bare refusal."""
    text = ascii_quotes(text)
    return _ABUSE.search(text) is not None and _HELP.search(text) is not None


@functools.lru_cache(maxsize=16)  # one prompt's checks each ask for it: read once
def decoded_texts(text: str) -> tuple[str, ...]:
    """The text, any encoded payloads (:mod:`.encodings`) or hidden text in it read back, and its
    letter-by-letter disguises undone (:mod:`.disguises`): what the screens look at."""
    undone = plain(text)
    return (text, *readings(text), *leetspeak(text), *_hidden_texts(text), *([undone] if undone else []))


# An operator's pattern may backtrack ("(a|aa)+b" on a prompt of a's runs for hours): a search cut
# short is taken as a match, so a prompt can neither stall the checks nor slip past them that way.


def check_topics(text: str, topics: tuple[regex.Pattern, ...]) -> list[InputFinding]:
    """The policy's ``blocked_topics`` (compiled from patterns with ASCII quotes) on ``text``."""
    text = ascii_quotes(text)
    found = []
    for p in topics:
        try:
            m = p.search(text, timeout=SEARCH_TIMEOUT_S)
        except TimeoutError:
            found.append(
                InputFinding("blocked_topic", p.pattern, f"(the pattern ran past {SEARCH_TIMEOUT_S:g} s: a match)")
            )
            continue
        if m:
            found.append(InputFinding("blocked_topic", p.pattern, m.group()[:120]))
    return found
