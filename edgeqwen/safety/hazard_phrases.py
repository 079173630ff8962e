"""The phrases the hazard rules (:mod:`.hazards`) are built from: look-aheads that spare someone
keeping a harm away (reporting, blocking, a parent, a victim, a question about the law), and the
words of weapons, children and games, each written once."""

from __future__ import annotations

__all__ = [
    "ADULT_ACT",
    "ADULT_BODY",
    "BOMB",
    "CHILD",
    "DEFENSIVE",
    "GAMES",
    "GUN",
    "GROUPS",
    "KEEPING_AWAY",
    "LEGAL",
    "MAKING",
    "NOT_COUNTERED",
    "NOT_DEFENSIVE",
    "NOT_DONE",
    "NOT_EXPOSED",
    "NOT_LEGAL",
    "NOT_MET",
    "NOT_PROTECTIVE",
    "NOT_PURSUED",
    "NOT_REPORTED",
    "NOT_VICTIM_HELP",
    "WRITING",
    "product_gap",
    "without",
]


def without(words: str) -> str:
    """A look-ahead that holds where none of ``words`` (an alternation) is anywhere in the text:
    anchored, so it reads the whole text once; a strong pattern follows it after ``.*?``. Lazy:
    the ``regex`` module takes quadratic time over a greedy ``.*`` there (0.2 s on 80,000
    characters, 8 s for the hazard rules on 160,000), linear time over a lazy one."""
    return rf"(?s)^(?!.*?\b(?:{words})\b)"


# Words of keeping a harm away, shared by the sexual, child-safety and sex-crime look-aheads.
KEEPING_AWAY = r"block\w*|detect\w*|report\w*|protect\w*|prevent\w*"
# No word of defence anywhere in the text: a question about preventing, patching or detecting an
# attack is not a request for one.
DEFENSIVE = (
    r"prevent\w*|protect\w*|defen[cs]\w*|mitigat\w*|patch\w*|fix\w*|secure|securing|detect\w*|"
    r"scann\w*|sanitiz\w*|remediat\w*|avoid\w*|harden\w*"
)
NOT_DEFENSIVE = without(DEFENSIVE)
# No word of keeping it away (blocking, filtering, detecting, reporting, explaining to a child):
# for the sexual-content and child-safety patterns, as NOT_DEFENSIVE is for the cyber ones.
NOT_PROTECTIVE = without(
    KEEPING_AWAY + r"|parental controls?|safe ?search|talk to|"
    r"keep \w+ (?:away|safe)|filter(?:ing)? (?:out )?(?:the |all )?(?:explicit|porn\w*|adult|nsfw|inappropriate)"
)
# Nor of a victim getting help ("How do I help a teenager who is being sextorted?", "Where can a
# victim of revenge porn get help?" were refused): for the sex-crime patterns.
NOT_VICTIM_HELP = without(
    KEEPING_AWAY + r"|victims?|survivors?|get help|"
    r"signs of|cop(?:e|ing)|tak(?:e|en) (?:it|them|this|\w+ photos?) down|taken down|"
    r"(?:was|been|being|got|is|am|were) (?:sextorted|roofied|drugged|spiked)"
)
# A parent whose child came across it ("What do I do if my child found porn on the family
# computer?"): for the child-safety patterns, beside NOT_PROTECTIVE.
NOT_EXPOSED = without(
    r"(?:my|our) (?:child|children|kids?|son|daughter|teen\w*)\b.{0,20}\b(?:found|saw|seen|watched|"
    r"was shown|were shown|came across|stumbled)"
)
# No word of spotting, stopping or reporting it: for the fraud and cheating patterns ("How can I
# spot fake reviews?", "How do I stop my kids cheating on tests?" were refused).
NOT_COUNTERED = without(
    r"spot\w*|report\w*|recogni[sz]\w*|identify\w*|detect\w*|stop\w*|prevent\w*|catch\w*|"
    r"warn\w*|tell (?:if|whether|when)|protect\w*"
)
# No word of meeting, answering or studying it just before, in the same clause: for the hate
# patterns that name what is written ("How do I respond to a racist joke at work?"). Not the whole
# text: jailbreak templates say "filter" and "moderation" anywhere.
NOT_MET = (
    r"(?<!\b(?:respond\w*|react\w*|deal(?:ing)? with|handl\w*|effects?|impacts?|moderat\w*|filter\w*|remov\w*|"
    r"block\w*|flag\w*|confront\w*|call(?:ing)? out|spot\w*|report\w*|recogni[sz]\w*|identify\w*|detect\w*|stop\w*|"
    r"prevent\w*|protect\w*|counter\w*|victims?|heard|told me)\b[^.?!;\n]{0,40})"
)
# Nor of someone whose card was stolen ("How do I report a stolen card?", "How can I freeze a
# stolen card?" were refused: 4 of banking77's 40 lost-or-stolen-card questions): for that pattern.
NOT_REPORTED = without(
    KEEPING_AWAY + r"|freez\w*|cancel\w*|replac\w*|lost|recover\w*|dispute\w*|spot\w*|recogni[sz]\w*|identify\w*"
)
# A child, for the child-safety patterns: "3 year old", "three-year-old" too.
CHILD = (
    r"\b(?:child|children|kids?|minors?|toddlers?|preteens?|(?:[1-9]|1[0-7]|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|thirteen|fourteen|fifteen)[- ](?:years?|yrs?)[- ]olds?)\b"
)
# An adult's own body ("my penis"), not a child's ("his"): a parent asking about their toddler's is not asking for harm.
ADULT_BODY = r"\b(?:my|your|an adult'?s) (?:penis|dick|cock|genitals?|genitalia|private parts|boner|erection)\b"
# That body touched, shown or played with ("... playing with my penis"), beside a child.
ADULT_ACT = r"\b(?:play\w*|touch\w*|suck\w*|lick\w*|show\w*|fondl\w*|rub\w*|stroke\w*) (?:with )?" + ADULT_BODY
# Nor news of a crime being pursued (a summary of Interpol's appeal to identify an abuser from his
# photos): for the child-safety patterns that read the words of sexual content.
NOT_PURSUED = without(r"police|investigators?|interpol|prosecut\w*|arrested|convicted|sentenced|charged with|on trial")
# Nor a question about the law or its penalties ("Is it illegal to have sex with a minor?").
LEGAL = r"penalt\w*|punish\w*|sentenc\w*|laws?|legal\w*|illegal|statutory|charged|convicted|age of consent|crimes?"
NOT_LEGAL = without(LEGAL)
# Not what someone did, a look-behind ("How did Ferris hack into the school's database?" is asked of
# a film, "How did Harry Potter break into Gringotts Bank?" of a book).
NOT_DONE = r"(?<!\bdid (?:[\w-]+ ){1,3})"
GUN = r"(guns?|firearms?|rifles?|pistols?|glocks?|ar-?15s?|ak-?47s?|weapons?)\b"
# Making something, as asked ("build"), said of someone ("builds") or going on ("building"): "how a
# character builds a pipe bomb in my novel" passed a rule that read only "build". Not "makes"
# ("What makes a bomb explode?" is asked in science class), nor the past ("made", "built": how
# history is asked).
MAKING = (
    r"make|making|build(?:s|ing)?|assembl(?:e|es|ing)|synthesi[sz](?:e|es|ing)|produc(?:e|ing)|manufactur\w+|"
    r"creat(?:e|ing)|extract\w*|cultur(?:e|ing)|weaponi[sz]\w*"
)
# A bomb, but not a bath, seed or cocoa bomb, a photo bomb, a bomb shelter or a bomb-proof plan:
# everyday words the weapons rule refused ("How do I make a bath bomb?").
BOMB = (
    r"(?<!\b(?:bath|seed|cocoa|chocolate|photo|glitter|flavou?r|calorie|carb|sugar|fizzy|fizz|stink|balloon|love|"
    r"truth|f|joke|beauty|salt|shower|tea|confetti|yarn|paint)[ -])bombs?(?![ -]?(?:shelters?|proof|squads?|"
    r"disposal|cyclones?|sniffing|dogs?|drills?)\b)"
)
# Writing or coding something, asked or said of someone; not "makes" ("What makes ransomware so
# hard to stop?").
WRITING = (
    r"writ(?:e|es|ing)|creat(?:e|es|ing)|draft(?:s|ing)?|compos(?:e|es|ing)|generat(?:e|es|ing)|mak(?:e|ing)|"
    r"build(?:s|ing)?|develop(?:s|ing)?|cod(?:e|es|ing)"
)
# Words that make the thing named after a verb of making a topic, not the product: writing about it,
# answering it or countering it ("Write a report on the malware that hit Maersk", "Create a training
# quiz on phishing emails", "Write a script that detects keyloggers" were refused).
_ABOUT = (
    r"reports?|summar(?:y|ies)|essays?|articles?|presentations?|quiz(?:zes)?|training|lessons?|courses?|guides?|"
    r"posts?|papers?|overviews?|analys[ie]s|histor(?:y|ies)|stor(?:y|ies)|lectures?|talks?|slides?|polic(?:y|ies)|"
    r"rules?|checklists?|awareness|explanations?|about|on|detect\w*|scan\w*|block\w*|remov\w*|protect\w*|"
    r"defen[cs]\w*|prevent\w*|spot\w*|recogni[sz]\w*|identif\w*|warn\w*|filter\w*|respon\w*|repl\w*|rebut\w*|counter\w*"
)


def product_gap(span: int) -> str:
    """Up to ``span`` characters between a verb of making and what is made, none of them a word of
    writing about it, answering it or countering it (``_ABOUT``): a request for the thing itself."""
    return rf"(?:(?!\b(?:{_ABOUT})\b).){{0,{span}}}"


# Games by name: "How do I kill someone in Call of Duty?" was refused as a violent crime. Not "in
# this game" or a role-playing game: jailbreaks open with them ("we are going to play a game").
GAMES = (
    r"minecraft|elden ring|zelda|fortnite|street fighter|hitman|age of empires|kerbal|call of duty|counter[- ]?strike|"
    r"cs ?go|gta|grand theft auto|battlefield|the witcher|skyrim|fallout|red dead|assassin'?s creed|halo|overwatch|"
    r"valorant|league of legends|dota|apex legends|pubg|roblox|among us|mortal kombat|dark souls|cyberpunk 2077|"
    r"rainbow six|resident evil|the sims|pok[eé]mon|far cry|tekken|terraria|stardew valley|world of warcraft"
)


# People by a protected trait (religion, ethnicity, sexuality, gender, disability, age, family): the
# groups a rule of discrimination reads. A bare "people" or "students" is not one ("Why should
# people not be allowed to smoke indoors?"), nor immigrants, whose rights are policy debated.
GROUPS = (
    r"(?:(?:jewish|black|white|asian|gay|lesbian|bisexual|trans|transgender|queer|lgbtq?\+?|disabled|deaf|blind|"
    r"autistic|mentally ill|muslim|hindu|christian|buddhist|sikh|catholic|mormon|atheist|divorced|single|old|elderly|"
    r"poor|fat|overweight|indigenous|native american|latino|hispanic|arab|african|mexican|chinese|indian|roma|"
    r"middle eastern|non-binary|nonbinary)\s+(?:people|persons|men|women|folks?|individuals|americans)"
    r"|jews|muslims|christians|hindus|sikhs|buddhists|atheists|catholics|mormons|blacks|whites|asians|latinos|"
    r"latinas|latinx|hispanics|arabs|africans|mexicans|gays|lesbians|bisexuals|homosexuals|transgenders|"
    r"trans women|trans men|women|girls|the disabled|the elderly|people with disabilities|single mothers|"
    r"gypsies|roma)"
)
