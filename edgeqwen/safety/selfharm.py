"""Someone speaking of hurting themselves, found to be answered with support, not a refusal
(``Policy.self_harm_response``): first-person crisis statements, ideation and disclosures in
English and 17 other languages, requests for methods (the hazard rules' ``self_harm`` category), and
a question about a means of dying or a farewell after distress said in the conversation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import regex

from .gated import Gated
from .hazards import category_rule
from .input import InputFinding, ascii_quotes

__all__ = ["EARLIER_TURNS", "check_self_harm", "speaks_of_self_harm"]

_I = regex.IGNORECASE

# Someone speaking of hurting themselves: answered with support, not a refusal (Policy.self_harm_response).
_SELF_HARM = [
    r"\bi (want|wanna|am going|'m going|plan|need|intend) to (die|kill myself|end (it all|my life|everything)|hurt myself|cut myself|disappear forever)\b",
    # said of oneself, not of "my friend who is" or "they are" thinking about it
    r"(?<!\b(he|she|they|who|someone|somebody|anyone|people|friend|son|daughter|brother|sister|wife|husband|partner|"
    r"mom|mum|dad|mother|father|child|kid|teen|student|patient)('s|'re)?\s+((is|are|was|were|has|have|had|been|be|"
    r"keeps?|kept|always|often|constantly|seriously|now|also|still|might|may|could|might be|may be)\s+){0,3})"
    r"\b(thinking|thought) (about|of) (suicide|killing myself|ending (it all|my life)|hurting myself|self[- ]harm)\b",
    r"\bi('m| am| feel) (so )?(suicidal|like (dying|killing myself|ending it))\b",
    r"\bi (don'?t|do not) want to (live|be alive|exist|wake up) (anymore|any more)\b",
    r"\b(no reason|nothing) (left )?to live for\b|\bbetter off (dead|without me)\b",
    r"\b(i|i've been|i have been|i keep) (cutting|harming|burning) myself\b",
    r"\bmy (cutting|self[- ]?harm(ing)?) (scars|cuts|wounds|marks)\b",  # "hide my cutting scars": a disclosure
    r"\b(i|i'm|i am|i've|i have|i was)( been| started| back to| still| stopped)? (self[- ]?harm(ing)?|sh'?ing)\b|\bmy (self[- ]?harm|suicidal thoughts)\b",
    r"\bi (wish|want|long) (for )?(my death|to be dead|i (was|were) dead|i('d| had) never been born)\b",
    r"\bi('ve| have)? (tried|attempted) (to )?(kill myself|suicide|overdos\w+|hang myself)\b|\bi('ve| have)?( been)? overdos(ing|ed)\b",
    # Passive and planning ideation as people write it (PyRIT's crisis conversations: "I just want
    # it all to end"; the C-SSRS screening questions: "go to sleep and not wake up", "how I might")
    r"\bi (just |really )?want (it all|everything|this all|all of (it|this)) to (end|stop|be over)\b",
    r"\bhow i (might|could|would|will|should|can|'d|'ll) (kill myself|end my (own )?life|take my (own )?life)\b",
    r"\b(i'm|i am|i feel|feeling) (so |completely |totally )?hopeless\b.{0,60}\bno way out\b",
    r"\bi (wish|want) (i could|to) (go to sleep|fall asleep|sleep) and (not|never) wake up\b",
    r"\bi('m| am| feel like)( just)? (such )?a burden (to|on) (everyone|everybody|my family|the people|those)\b",
    # harm to one's own body asked about as a way to feel or cope ("is burning my skin a good way to
    # get control over my life?" was answered: no rule read a body part); the purposes are feelings,
    # not an itch relieved or body fat burned
    r"\b(is|would|does|will|can)\s+(cutting|burning|hurting|harming|scratching|hitting|punching|starving|bruising)\s+"
    r"(myself|my\s+(own\s+)?(skin|arms?|wrists?|legs?|thighs?|body|face|stomach))\b(?!\s+(fat|calories|hair|cells))"
    r"[^.?!\n]{0,40}\b(way|help|helps)\b[^.?!\n]{0,20}\b(cope|deal with (my |the )?(feelings|emotions|stress|pain|"
    r"anxiety|sadness|anger)|feel (something|better|alive|real|numb|in control)|(get|take|regain) (some )?control|"
    r"calm (myself )?down|numb|punish myself|stop (feeling|thinking|the pain)|forget)\b",
    # The same first-person statements in the languages of injection_languages.OVERRIDE; "I could die
    # of laughter/shame" idioms excluded. A person in crisis rarely writes in a second language.
    r"\bich (will|möchte|wollte|werde) (mich (umbringen|töten)|sterben|nicht mehr leben)\b(?! vor)|\bmir das leben (zu )?nehmen\b|\bich bin (so )?suizidal\b",
    r"\bik (wil|ga) (dood|zelfmoord plegen|niet meer leven|mezelf (doden|van kant maken))\b",
    r"\bje (veux|vais|voudrais) (mourir|me suicider|me tuer|en finir)\b(?! de)|\bje ne veux plus vivre\b|\benvie de mourir\b(?! de)",
    r"\b(quiero|voy a) (morir(me)?|suicidarme|matarme|quitarme la vida)\b(?! de)|\bme quiero (morir|matar)\b(?! de)|\bno quiero (seguir viviendo|vivir más)\b",
    r"\b(quero|vou) (morrer|me matar|me suicidar|tirar (a )?minha (própria )?vida)\b(?! de)|\bnão quero mais viver\b",
    r"\bvoglio (morire|uccidermi|suicidarmi|togliermi la vita)\b(?! d)|\bnon voglio più vivere\b",
    r"\bchcę (umrzeć|się zabić|popełnić samobójstwo)\b|\bnie chcę (już )?żyć\b",
    r"(хочу|хочется) (умереть|покончить с собой|убить себя)|не хочу (больше )?жить|(хочу|хочеться) (померти|вбити себе)",
    # "我想死你了" is "I miss you so"
    r"我(好|真的|真)?想(去死|死(?!你|您|他|她|它|了))|我(真的)?(想|要)(自杀|自殺|结束自己的生命|結束自己的生命)|我不想活了",
    r"死にたい|自殺したい|消えてしまいたい|生きていたくない",
    r"죽고 싶|자살하고 싶|살고 싶지 않",
    r"\b(ölmek|intihar etmek|kendimi öldürmek) istiyorum\b|\byaşamak istemiyorum\b",
    r"أريد (أن أموت|الانتحار|أن أقتل نفسي|أن أنتحر)|لا أريد أن أعيش",
    r"मैं (मरना|आत्महत्या करना|खुद को मारना) चाहत|मैं (अब )?जीना नहीं चाहत",
    r"\b(aku|saya) (ingin|mau) (mati|bunuh diri)\b|\b(aku|saya) tidak (ingin|mau) hidup lagi\b",
    r"\btôi muốn (chết|tự tử|tự sát)\b|\btôi không muốn sống nữa\b",
]
_SELF_HARM_RE = [regex.compile(p, _I) for p in _SELF_HARM]


# Suicidal thoughts and questions of method in the other languages, searched only in a text that
# holds one of their words (Gated: searched one by one, or gated with regex.I, they cost
# check_self_harm half again)
_OTHER_GATE = (
    r"selbstmord|suizid|umbring|umzubringen|bringe ich mich|mich (töten|erhängen|vergiften)|das leben nehmen|"
    r"zelfmoord|mezelf|suïcid|suicid|suicíd|me tuer|mettre fin|matar|mato|quitarme|tirar|uccid|ammazz|togliermi|"
    r"samobój|zabi|odebra|самоуб|суиц|покончить|убить себя|самогуб|суїц|покінчити|вбити себе|αυτοκτον|σκοτώσω|"
    r"自杀|自殺|生命|死に|死ね|자살|ntihar|öldür|نتح|قتل نفسي|आत्महत्या|खुदकुशी|खुद को|bunuh diri|mengakhiri hidup|"
    r"tự tử|tự sát|quiero vivir|我不想活|"
    # the words of hurting oneself (the disclosures below)
    r"ritz|selbstverletz|verletze mich|snijd|kras mezelf|scarifi|mutil|me coupe|me fais du mal|autolesion|corto|cortando|"
    r"machuco|hago daño|taglio|faccio del male|tnę się|okaleczam|krzywdę|режу|порез|себе вред|себе боль|себе увечья|"
    r"самоповрежд|ріжу|"
    r"собі|κόβω|αυτοτραυματ|βλάπτω|自残|自殘|割腕|伤害自己|傷害自己|リストカット|自傷|傷つけ|자해|zarar veriyorum|"
    r"kendimi kesiyorum|أؤذي|أجرح|أقطع|नुकसान|चोट|काट|melukai|menyakiti|menyayat|mengiris|tự làm hại|tự hại|"
    r"tự cắt|rạch tay"
)
_OTHER_LANGUAGES = [
    # Thinking of suicide, and suicidal thoughts, said of oneself (English: "thinking about suicide",
    # "my suicidal thoughts"); "Ich habe Suizidgedanken", "Pienso en suicidarme", "Думаю о
    # самоубийстве", "我有自杀的念头" passed every check. Not a thought of another's death, nor "I don't
    # want to live in Madrid".
    r"\bich (denke|dachte)\b.{0,20}\b(an|über) (selbstmord|suizid)\b|\bich (denke|dachte) (daran|darüber nach),? mich "
    r"umzubringen\b|\b(ich )?(habe|hab) (oft |ständig |wieder |immer wieder )?(suizidgedanken|selbstmordgedanken|"
    r"suizidale gedanken)\b",
    r"\bik (denk|dacht) (vaak |steeds )?(aan|over) zelfmoord\b|\bik heb (vaak )?(zelfmoordgedachten|suïcidale gedachten)\b",
    r"\bje (pense|songe) (souvent |sérieusement )?(au suicide|à me suicider|à me tuer|à mettre fin à mes jours)\b|"
    r"\bj'ai des (idées|pensées) suicidaires\b",
    r"\b(pienso|estoy pensando) (en )?(suicidarme|el suicidio|matarme|quitarme la vida)\b|\btengo (pensamientos|ideas) "
    r"suicidas\b|\bno quiero vivir( más)?\s*([.!?,]|$)",
    r"\b(penso|estou pensando) em (me matar|suicídio|me suicidar|tirar (a )?minha vida)\b|\btenho pensamentos suicidas\b",
    r"\b(penso|sto pensando) (al suicidio|di uccidermi|di suicidarmi|di togliermi la vita)\b|\bho pensieri suicid\w+",
    r"\bmyślę o (samobójstwie|zabiciu się|odebraniu sobie życia)\b|\bmam myśli samobójcze\b",
    r"\b(думаю|думаю о том, чтобы) (о самоубийстве|о суициде|покончить с собой|убить себя)|\bу меня (суицидальные|"
    r"самоубийственные) мысли|\bдумаю про (самогубство|суїцид)|\bу мене суїцидальні думки",
    r"σκέφτομαι (να αυτοκτονήσω|την αυτοκτονία)|έχω αυτοκτονικές σκέψεις",
    r"我(有|经常有|一直有|總是有|常常有)?(自杀|自殺)的?(念头|念頭|想法)|我(在|一直在)想(自杀|自殺)|我不想活(下去)?\s*([。！？!?,，]|$)",
    r"自殺(を|について)考え|死にたいと(思|考)|自殺願望",
    r"자살을 (생각|고민)|자살 충동",
    r"\b(intiharı|kendimi öldürmeyi) düşünüyorum\b|\bintihar düşüncelerim\b",
    r"أفكر في (الانتحار|قتل نفسي)|لدي أفكار انتحارية",
    r"आत्महत्या (के बारे में|करने की|करने के बारे में) सोच|मेरे मन में आत्महत्या",
    r"\b(saya|aku) (berpikir|kepikiran|memikirkan) (untuk )?(bunuh diri|mengakhiri hidup)\b|\b(saya|aku) (punya|memiliki|"
    r"ada) pikiran (untuk )?bunuh diri\b",
    r"\btôi (đang )?(nghĩ|suy nghĩ) (đến|về) (chuyện |việc )?(tự tử|tự sát)\b|\btôi có ý (nghĩ|định) (tự tử|tự sát)\b",
    # Hurting oneself, said in the first person (English: "I've been cutting myself", "I'm
    # self-harming"): "Ich ritze mich", "Me autolesiono", "我在自残" passed every check, and "Je me
    # fais du mal" got the flat refusal. A body part or a word of self-harm is needed where the
    # verb alone also cuts hair or fingers while cooking ("mi taglio i capelli").
    r"\bich\b.{0,20}\bselbstverletz\w*|\bich (ritze|ritz) mich\b|\bich verletze mich (selbst|absichtlich)\b",
    r"\bik (snijd|kras) mezelf\b(?!\s+(\w+\s+){0,2}(bij|met|aan|tijdens|in)\s)|\bik doe mezelf (expres )?pijn\b",
    r"\bje me (scarifie|mutile|coupe les (bras|poignets|veines|cuisses))\b|\bje me fais du mal\b(?! (à|au|aux|en) )|"
    r"\bje m'automutile\b",
    r"\bme (autolesiono|corto los (brazos|muñecas|piernas)|hago daño a m[ií] mism[oa])\b|\bme estoy (autolesionando|"
    r"cortando los brazos)\b",
    r"\b(eu )?me (automutilo|autolesiono|corto os (braços|pulsos))\b|\bestou me (automutilando|cortando)\b(?! (com|ao|"
    r"quando|fazendo) )",
    r"\bmi taglio (le braccia|i polsi|le gambe|le cosce)\b|\bmi autolesiono\b|\bmi faccio del male( da sol[oa])?\s*"
    r"([.!?,]|$)",
    r"\btnę się\b|\b(samo)?okaleczam się\b|\brobię sobie krzywdę\b",
    r"\bя (режу себя|режу (себе )?руки|наношу себе (порезы|вред|увечья)|причиняю себе (боль|вред)|занимаюсь "
    r"самоповреждением)|\bя (ріжу себе|завдаю собі (болю|шкоди))",
    r"κόβω τον εαυτό μου|αυτοτραυματίζομαι|βλάπτω τον εαυτό μου",
    r"我(在|一直在|经常|常常|又|總是|总是)?(自残|自殘|割腕|伤害自己|傷害自己)",
    r"リストカット(して|を(して|し))|自傷(行為)?を(して|続け)|自分を傷つけて(い|しま)",
    r"자해(를 해|를 하고|하고 있|해요|했어)",
    r"\bkendime zarar veriyorum\b|\bkendimi kesiyorum\b",
    r"أؤذي نفسي|أجرح نفسي|أقطع (يدي|معصمي)",
    r"(मैं )?खुद को (नुकसान पहुंचा|नुकसान पहुँचा|चोट पहुंचा|चोट पहुँचा|काटता|काटती)",
    r"\b(saya|aku) (melukai|menyakiti) diri( sendiri)?\b|\b(saya|aku) (sering )?(menyayat|mengiris) (tangan|lengan|"
    r"diri)",
    r"\btôi (tự làm hại|tự hại|tự cắt|rạch tay)",
    # How to kill oneself, asked in the same languages (English: the hazard rules' self_harm
    # patterns); "Wie kann ich mich umbringen?" and "¿Cómo puedo suicidarme?" passed every check.
    # Asked in the first person or as "how to", never of others, of prevention or of statistics.
    r"\bwie (kann|soll|könnte) ich\b.{0,20}\b(mich (umbringen|töten|erhängen|vergiften)|(selbstmord|suizid) begehen|mir "
    r"das leben nehmen)\b|\bwie bringe ich mich (am besten |schnell |schmerzlos |selbst )*um\b",
    r"\bhoe (kan|moet|zou) ik\b.{0,15}\b(zelfmoord (plegen|te plegen)|mezelf (doden|van kant maken|ombrengen))\b",
    r"\bcomment (puis-je |je peux |pourrais-je |faire pour |est-ce que je peux )?(me suicider|me tuer|mettre fin à "
    r"(mes jours|ma vie))\b(?! (de|à) )",
    # (not dying of laughter or working oneself to death: "me mato de risa", "ammazzarmi di lavoro")
    r"\bc[oó]mo (puedo |podr[ií]a |debo )?(suicidarme|matarme|quitarme la vida)\b(?! (de|a) )|\bc[oó]mo me (mato|"
    r"suicido)\b(?! (de|a) )",
    r"\bcomo (posso |poderia |devo |eu )?(me matar|me suicidar|matar-me|suicidar-me|tirar (a )?minha (própria )?vida)"
    r"\b(?! (de|a) )",
    r"\bcome (posso |potrei |devo )?(uccidermi|suicidarmi|togliermi la vita|ammazzarmi)\b(?! (di|a) )",
    r"\bjak (mam |mogę |moge )?(się zabić|się zabic|popełnić samobójstwo|odebrać sobie życie)\b",
    r"\bкак (мне )?(покончить с собой|убить себя|совершить самоубийство)|\bяк (мені )?(покінчити з собою|вбити себе|"
    r"вчинити самогубство)",
    r"πώς (να |μπορώ να )(αυτοκτονήσω|σκοτώσω τον εαυτό μου)",
    r"(怎么|怎样|如何|怎麼|怎樣)(才能)?(自杀|自殺|结束自己的生命|結束自己的生命)|(?<!预防)(?<!防止)(?<!預防)自[杀殺](的)?(方法|方式)",
    r"(どうやって|どうすれば|どうしたら)(自殺|死ねる|死ねます)|自殺(の|する)(方法|やり方)",
    r"자살(하는|할 수 있는) 방법|어떻게 (하면 )?자살|자살하려면 어떻게",
    r"\bnasıl (intihar edebilirim|intihar ederim|kendimi öldürebilirim|kendimi öldürürüm)\b",
    r"كيف (يمكنني |أستطيع )?(أن )?(أنتحر|أقتل نفسي)",
    r"(आत्महत्या|खुदकुशी) (कैसे करूं|कैसे करूँ|कैसे कर सकता|कैसे कर सकती)|खुद को (कैसे मारूं|कैसे मारूँ)",
    r"\b(bagaimana|gimana) (cara )?(saya |aku )?(bisa )?(bunuh diri|mengakhiri hidup(ku| saya)?)\b|\bcara bunuh diri\b",
    r"\b(làm (thế|sao) (nào )?để|cách) (tự tử|tự sát)\b",
]
# the first of these patterns a text holds, read only past their gate
_in_other_languages = Gated((_OTHER_GATE,), _OTHER_LANGUAGES).search


# A question about a means of dying, or a farewell, that is harmless alone ("What bridges in NYC are taller than
# 25 meters?") and not after distress ("I just lost my job."): the case of Moore et al., "Expressing
# stigma and inappropriate responses prevents LLMs from safely replacing mental health providers"
# (FAccT 2025), where chatbots listed the bridges. Read only beside a sign of distress.
_MEANS = re.compile(
    r"\b(?:bridges?|buildings?|cliffs?|towers?|skyscrapers?|rooftops?|roofs?|parking (?:garages?|structures?))\b"
    r"[^.?!\n]{0,40}\b(?:taller|higher|tallest|highest|over \d+ ?(?:m|meters?|metres?|feet|ft|stor(?:ey|ie)s?))\b"
    r"|\b(?:tall|tallest|high|highest)\s+(?:bridges?|buildings?|cliffs?|towers?|skyscrapers?|rooftops?)\b"
    r"|\bhow (?:tall|high) (?:is|are) (?:the )?[^.?!\n]{0,40}\b(?:bridge|building|cliff|tower)s?\b"
    r"|\b(?:survive|die from|die in) (?:a |the )?(?:fall|jump)\b"
    r"|\b(?:lethal|fatal|deadly|toxic) (?:dose|dosage|amount|quantity)s?\b"
    r"|\bhow many\b[^.?!\n]{0,40}\b(?:pills|tablets|capsules|painkillers)\b|\btoo many (?:pills|tablets|painkillers)\b"
    r"|\b(?:buy|get|purchase|get hold of) (?:a |some )?(?:gun|handgun|pistol|firearm|rope|noose)\b"
    r"|\bhow long (?:does|would|will) it take to (?:die|drown|bleed out|suffocate|freeze to death)\b"
    # the warning signs of a farewell: giving away what one treasures, saying one will not be seen
    # again (PyRIT's crisis conversation: "help me write a letter" gifting "my most beloved watch")
    r"|\b(?:give|giving|gift|gifting|leave|leaving)\s+(?:away\s+)?(?:\w+\s+){0,3}my\s+(?:most\s+)?"
    r"(?:beloved|prized|favou?rite|precious|treasured|cherished)\b"
    r"|\bgiv(?:e|ing)\s+away\s+(?:all\s+)?my\s+(?:things|belongings|possessions|stuff)\b"
    r"|\b(?:won'?t|will\s+not|will\s+never|never)\s+see\s+me\s+(?:around\s+)?(?:again|any\s?more)\b"
    r"|\bi'?m\s+sorry\s+for\s+everything\b|\b(?:he|she|they|you|everyone|my\s+\w+)\s+(?:will|might|would)\s+miss\s+me\b"
    r"|\b(?:goodbye|farewell)\s+(?:letter|note|message)\b|\b(?:after|when)\s+i'?m\s+(?:gone|no\s+longer\s+(?:here|around))\b"
)  # searched in the lower-cased text with the standard re: 41 µs a prompt, against 94-121 with regex.I
# Distress short of the self-harm rules, in the first person: a loss, despair. Read only with _MEANS.
_DISTRESS = regex.compile(
    r"\b(?:i|i've|i have)\s+(?:just\s+)?lost\s+my\s+(?:job|home|house|wife|husband|partner|child|son|daughter|mom|mum|dad|mother|father|best friend)\b"
    r"|\b(?:my\s+(?:wife|husband|partner|girlfriend|boyfriend|fianc[ée]e?))\s+(?:just\s+)?(?:left|dumped|divorced)\s+me\b"
    r"|\bhopeless\b|\bno\s+way\s+out\b|\bcan'?t\s+(?:take|handle)\s+(?:it|this)\b|\bcan'?t\s+do\s+(?:it|this)\s+any\s?more\b"
    r"|\bi\s+give\s+up\b|\b(?:everything|my\s+life)\s+is\s+falling\s+apart\b"
    r"|\bi(?:'m|\s+am)\s+(?:so\s+)?(?:worthless|empty\s+inside|done\s+with\s+(?:everything|life))\b"
    r"|\b(?:nobody|no\s*one)\s+(?:cares|loves\s+me|would\s+(?:miss|care))\b|\bi\s+(?:can'?t|cannot)\s+go\s+on\b"
    r"|\bi\s+hate\s+myself\b|\bwhat'?s\s+the\s+point\s+of\s+(?:living|life|going\s+on)\b|\bthe\s+pain\s+to\s+(?:stop|end)\b",
    _I,
)
EARLIER_TURNS = 6  # how many earlier user turns a question about means is read beside


def check_self_harm(text: str, earlier: Sequence[str] = ()) -> list[InputFinding]:
    """A person at risk (speaking of hurting themselves) or a request for self-harm methods; or a
    question about a means of dying (a height, a dose, a gun) or a farewell (giving away what one
    treasures) from someone who, in this text or in ``earlier`` user turns of the conversation
    (the last EARLIER_TURNS read), spoke of their own distress or of hurting themselves."""
    code, strong = category_rule("self_harm")
    text = ascii_quotes(text)
    m = next((m for p in (*_SELF_HARM_RE, *strong) if (m := p.search(text))), None) or _in_other_languages(text)
    if m:
        return [InputFinding("self_harm", code, m.group()[:120])]
    means = _MEANS.search(text.lower())  # or a farewell
    if means is not None:
        # the earlier turns are read (and their quotes made ASCII) only here, where a means was asked about
        for said in (text, *(ascii_quotes(t) for t in list(earlier)[-EARLIER_TURNS:])):
            # first person only: a story about someone else's suicide is no sign (safety-train has one)
            if _DISTRESS.search(said) or any(p.search(said) for p in _SELF_HARM_RE) or _in_other_languages(said):
                return [InputFinding("self_harm", code, f"{means.group()[:80]} (after distress)")]
    return []


# Which refusal text a refused prompt gets, never a verdict: a prompt the screen (or the probe)
# refuses that speaks of hurting oneself is answered with support and resources, not "I can't help
# with that" (OpenAI's moderation set: 21 of its 47 self-harm texts were refused as "harmful").
# Wider than _SELF_HARM, as only prompts refused anyway are read with it.
_SPEAKS_OF_SELF_HARM = regex.compile(
    # (each verb's own forms: "cutting myself" and "starving myself" were not read by a shared suffix)
    r"\b(?:hurt(?:s|ing)?|harm(?:s|ed|ing)?|punish(?:es|ed|ing)?|cut(?:s|ting)?|burn(?:s|t|ed|ing)?|stab(?:s|bed|bing)?|"
    r"starv(?:e|es|ed|ing)|kill(?:s|ed|ing)?|scratch(?:es|ed|ing)?|bleed(?:s|ing)?|chok(?:e|es|ed|ing)|hang(?:s|ed|ing)?)\s+"
    r"(?:myself\b(?!\s+(?:a|an|some)\b)|my\s+(?:wrists?|arms?|legs?|thighs?|skin|body)\b)"  # not "cut myself a slice"
    r"|\b(?:i|i've|i have|i'm|i am|i was|i used to|i started|i stopped)\s+(?:been\s+)?(?:cutting|bloodlet\w*|relaps\w*)\b"
    r"|\bi\s+(?:used\s+to\s+|started\s+to\s+)?cut\b(?!\s+(?:corners|back|down|out|off|ties|costs?|the|a|an|it|them|him|her)\b|\s+myself\s+(?:a|an|some)\b)"
    r"|\bself[- ]?harm\w*|\bbloodlet\w*|\b(?:my|the)\s+cuts\b|\bcutting\b(?=.{0,60}\b(?:cop\w+|therap\w+|relaps\w+|scars?|urges?)\b)"
    r"|\b(?:kill|killing)\s+(?:myself|oneself)\b|\b(?:end|ending|take|taking)\s+my\s+(?:own\s+)?life\b|\bend(?:ing)?\s+it\s+(?:all|tonight)\b"
    r"|\bsuicid\w*|\b(?:go to sleep|fall asleep)\s+(?:and|&)\s+(?:not|never)\s+wake\s+up|\bbetter\s+off\s+(?:dead|without\s+me)"
    r"|\bi(?:'m|\s+am|\s+feel\s+like)\s+(?:such\s+)?a\s+burden\b|\b(?:wish|want)(?:ed)?\s+(?:i\s+(?:was|were)|to\s+be)\s+dead"
    r"|\bdon'?t\s+want\s+to\s+(?:be\s+here|exist|live|be\s+alive)|\bno\s+(?:point|reason)\s+(?:in\s+|to\s+)?(?:living|live|going\s+on)"
    r"|\bcan'?t\s+go\s+on\b|\b(?:the\s+)?pain\s+to\s+(?:stop|end)\b|\bi\s+hate\s+myself\b|\bnobody\s+would\s+(?:miss|care)\b"
    r"|\b(?:my\s+)?life\s+(?:is|has\s+been|feels|seems)\s+(?:so\s+)?(?:meaningless|pointless|not\s+worth)"
    r"|\bwhat'?s\s+the\s+point\s+of\s+(?:living|life|going\s+on)"
    # fear of dying, said of oneself ("I do not want to die" had the flat refusal: the screen, 0.87)
    r"|\bi\s+(?:don'?t|do\s+not)\s+want\s+to\s+die\b"
    r"|\bi(?:'m|\s+am)\s+(?:so\s+)?(?:scared|afraid|terrified)\s+(?:of\s+dying|to\s+die|(?:that\s+)?i(?:'m|\s+am|\s+will)\s+(?:going\s+to\s+)?die)\b",
    _I,
)


def speaks_of_self_harm(text: str) -> bool:
    """Someone speaking of hurting or ending themselves: a refused prompt of this kind is answered
    with ``Policy.self_harm_response`` (support and resources), not a bare refusal."""
    return _SPEAKS_OF_SELF_HARM.search(ascii_quotes(text)) is not None
