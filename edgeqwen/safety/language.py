"""Whether a text is English, the one language the learned screen and most rules read.

The screen was trained on English prompts (all but a dozen of safety-train's rows): it refuses none
of HarmBench's requests translated into Russian, where it refuses 94% of the English ones
(docs/safety.md, LLAMATOR's data). A prompt in another language passes it unread, so a policy can
send exactly those prompts to the guard model, which reads 119 languages
(``Policy.guard_languages``), and leave English to the checks that cost a millisecond.

Another language: a dozen of the text's letters, or a quarter of them, are of another script
(Cyrillic, Han, Arabic...; a wrong guess costs a guard model's check, a missed one leaves the prompt
unread), or its Latin words hold more of the function words of the commonest Latin-script languages,
and of words with marks English rarely writes, than of English's function words ("¿Qué es la
inteligencia artificial?", "Wie geht es dir?"). Names, code and loanwords decide nothing; a text
with neither kind of word is taken as English.
"""

from __future__ import annotations

import regex

__all__ = ["is_english"]

# Function words that are no English word (so not "die", "was", "bin", "van", "met", "con", "come"):
# Spanish, French, German, Italian, Portuguese, Dutch, Swedish, Danish and Norwegian, Turkish,
# Indonesian and Malay, Polish, Czech, Romanian, Hungarian and Tagalog.
_FOREIGN = frozenset(
    """
    que qué el los las del por para una está están es esta este eso esto cómo cuál dónde cuándo quién
    porque pero muy más hay tengo tienes tiene eres soy estoy puedo puedes hacer yo usted también sí
    le les des une est pour pas dans avec sur qui je tu vous nous elle ce cette sont suis êtes comment
    pourquoi quel quelle où oui très mais et ou du au aux qu c'est j'ai n'est
    der das und ist nicht ein eine ich du sie wir ihr mit für auf wie warum wo wer kann können bist
    sind dem zu von auch oder aber ja nein mein dein es gibt ich's
    il gli che di non sono sei è un della questo questa anche cosa perché dove chi io lui lei noi voi
    mi ti ci si della dei delle nel nella
    os um não é você eu da dos das em na mas sim muito meu minha isso isto
    het een en ik je jij wij niet zijn wat hoe waarom wie waar voor dat dit maar ook nee
    och att det som ett är jag vi inte för på vad hur varför ikke jeg er og
    ve bir bu ile için ne nasıl neden mı mi mu mü değil sen yok çok
    yang itu ini tidak apa kamu saya aku dengan untuk dari adalah bagaimana mengapa
    się jest nie że jak czy dlaczego
    že jsem není proč
    și este nu sunt
    az egy hogy nem mi miért
    ang mga ng sa ako ikaw
    """.split()
)
# English's own function words, as many as the foreign list holds of each language
_ENGLISH = frozenset(
    """
    the a an and or of to in on at for with from by is are was were be been it this that these those you
    your i me my we our he she they them his her its how what why who when where which do does did can
    could would should will not no all any some if then than but so there here have has had am i'm it's
    don't can't what's
    """.split()
)
_OTHER_LETTERS = 12  # letters of another script that make a text not English, wherever they stand
_LETTERS = regex.compile(r"\p{L}")
_LATIN = regex.compile(r"\p{Script=Latin}")
_WORD = regex.compile(r"\p{Script=Latin}+(?:'\p{Script=Latin}+)?")
_SENTENCE = regex.compile(r"[.!?;:\n]+")


def is_english(text: str) -> bool:
    """Whether ``text`` reads as English (see the module's docstring). Each sentence is read on its
    own: a request in another language after a page of English is still one."""
    letters = len(_LETTERS.findall(text))
    other = letters - len(_LATIN.findall(text))
    # another script: a dozen letters anywhere, or a quarter of them ("Что такое Debian GNU/Linux?"
    # has more Latin letters than Cyrillic ones)
    if other >= _OTHER_LETTERS or 4 * other >= max(letters, 1):
        return False
    # the whole text by its words (the sum of its sentences'); then each sentence with two foreign
    # words or more, so a request in another language after a page of English is still one
    parts = [_counts(part) for part in _SENTENCE.split(text)]
    return sum(f for f, _ in parts) <= sum(e for _, e in parts) and all(f < 2 or f <= e for f, e in parts)


def _counts(text: str) -> tuple[int, int]:
    """The text's foreign words and English function words."""
    words = [w.lower() for w in _WORD.findall(text)]
    # a word with a mark English rarely writes ("senziente" has none, "você" and "Lüge" do) counts too
    foreign = sum(w in _FOREIGN or not w.isascii() for w in words) + text.count("¿") + text.count("¡")
    return foreign, sum(w in _ENGLISH for w in words)
