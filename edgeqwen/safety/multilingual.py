"""The strongest hazard patterns in the languages Qwen users write most, beside the English ones.

The learned screen is trained on English prompts and the hazard rules were English only, so "¿Cómo
fabrico una bomba casera?" or "如何在家制造炸弹？" passed every input check. These say the requests
to make something that are harmful however they are framed — a bomb or a chemical weapon, a gun, a
hard drug synthesised, sexual content about children — in 17 languages, in the English patterns'
shape: a verb of making (or of writing or finding, for the last) close before the object, within
one sentence. Each language's everyday senses of the object words are excluded ("bomba de agua"
is a water pump, "bombe de peinture" a spray can, "бомбочка для ванны" a bath bomb, "pistola de
silicona" a glue gun). Checked on the translations of 1.26M interface strings
(tools/bench/rules_precision.py) and both ways by the tests; docs/safety.md says what they miss.
:mod:`.multilingual_acts` reads requests to harm a person (to kill, steal, break in) the same way.
"""

from __future__ import annotations

from .gated import Gated

__all__ = ["CHILD_SEXUAL", "DRUG_SYNTHESIS", "GUN_MAKING", "MALICIOUS_WRITING", "THREAT_WRITING", "WEAPON_MAKING"]


# Language-neutral names (Latin script, and each script's spelling) of the hard drugs and the
# chemical agents the English patterns name.
_DRUGS = (
    r"(meth|crystal meth|m[eé]th?amph?[eé]tamin[aeęy]?|metanfetamina|metamfetamina|metamfetamin[aeęy]?|fentan[iy]l[oe]?|"
    r"hero[ií]n[aeęy]?|h[eé]ro[iï]ne|eroina|coca[ií]n[ae]?|coca[iï]ne|kokain[aeęy]?|lsd|mdma|"
    r"метамфетамин\w*|метамфетамін\w*|первитин\w*|фентанил\w*|фентаніл\w*|героин\w*|героїн\w*|кокаин\w*|кокаїн\w*|"
    r"shabu|sabu-sabu|ma túy đá)"
)
_AGENTS = r"(sarin[ae]?|sarín|ricin[ae]?|novi(c|č|ch)ok|vx|зарин\w*|рицин\w*|новичок\w*)"
_DRUGS_CJK = r"(冰毒|甲基苯丙胺|芬太尼|海洛因|可卡因|沙林|蓖麻毒素|覚醒剤|覚せい剤|メタンフェタミン|フェンタニル|ヘロイン|コカイン|サリン|필로폰|메스암페타민|펜타닐|헤로인|코카인|사린)"

# Verbs of making per language, for bombs and chemical agents. Exact forms, none an English word,
# none that also means "ago" (es "hace", pt "faz", it "fa") or "does" of a thing ("Was macht
# eine Bombe gefährlich?"), and not in "what to do if" ("¿Qué hacer si encuentras una bomba?",
# "Que faire si on trouve une bombe ?"); Vietnamese "làm" and Indonesian "buat" are too general.
_MAKE = {
    "de": r"(bauen|baue|baut|herstellen|hergestellt|anfertigen|mache|basteln|bastle|synthetisieren|synthetisiere|produzieren|produziere)",
    "nl": r"(maak|maken|bouw|bouwen|fabriceer|fabriceren|vervaardig|vervaardigen|synthetiseer|synthetiseren|produceer|produceren)",
    "fr": r"(fabriquer|fabrique|fabriques|(?<!que )(?<!quoi )faire|fais|construire|construis|préparer|prépare|synthétiser|synthétise|produire|produis|confectionner)",
    "es": r"(fabricar|fabrico|se fabrica(n)?|(?<!qu[eé] )hacer|hago|construir|construyo|armar|armo|preparar|preparo|sintetizar|sintetizo|producir|produzco|elaborar|elaboro)",
    "pt": r"(fabricar|fabrico|se fabrica(m)?|(?<!que )fazer|faço|construir|construo|montar|monto|preparar|preparo|sintetizar|sintetizo|produzir|produzo)",
    "it": r"(fabbricare|fabbrico|si fabbrica(no)?|come (si )?fa(re)?|costruire|costruisco|preparare|preparo|sintetizzare|sintetizzo|produrre|produco)",
    "pl": r"(zrobić|zrobic|zrób|zbudować|zbuduj|wyprodukować|przygotować|przygotuj|zsyntetyzować|wytworzyć)",
    "ru": r"((?<!что )сделать|сделай|изготов\w*|собрать|собери|синтезир\w*|приготов\w*|произвести)",
    "uk": r"((?<!що )зробити|зроби|виготов\w*|зібрати|збери|синтезу\w*|приготу\w*)",
    "id": r"(membuat|merakit|rakit|mensintesis|memproduksi|meracik|racik)",
    "vi": r"(chế tạo|cách làm|làm ra|sản xuất|tổng hợp)",
}
# For the drugs only verbs of synthesis and cooking: the generic "make/do" verbs read "What does
# cocaine do to the body?" ("Was macht Kokain...", "Apa yang membuat kokain...") as a request.
_SYNTH = {
    "de": r"(herstellen|hergestellt|synthetisieren|synthetisiere|kochen|koche|produzieren|produziere)",
    "nl": r"(fabriceren|vervaardigen|synthetiseren|synthetiseer|koken|produceren|produceer)",
    "fr": r"(fabriquer|synthétiser|synthétise|produire|cuisiner)",
    "es": r"(fabricar|fabrico|sintetizar|sintetizo|producir|produzco|cocinar|cocino|preparar)",
    "pt": r"(fabricar|sintetizar|sintetizo|produzir|produzo|cozinhar|cozinho|preparar)",
    "it": r"(fabbricare|sintetizzare|sintetizzo|produrre|produco|cucinare|cucino|preparare)",
    "pl": r"(wyprodukować|zsyntetyzować|ugotować|wytworzyć|przygotować)",
    "ru": r"(изготов\w*|синтезир\w*|приготов\w*|произвести|свари\w*|варить)",
    "uk": r"(виготов\w*|синтезу\w*|приготу\w*|звари\w*)",
    "id": r"(mensintesis|memproduksi|meracik|racik|memasak)",
    "vi": r"(tổng hợp|nấu|sản xuất|chế tạo)",
}
_BOMBS = {
    "de": r"(bomben?|rohrbomben?|sprengsatz|sprengsätze|sprengstoff\w*|brandsatz|molotowcocktails?|nervengas|nervenkampfstoff\w*)",
    "nl": r"(bom|bommen|pijpbom\w*|explosieven|springstof\w*|molotovcocktails?|zenuwgas)",
    "fr": r"(bombes?(?! (de|à|a) (bain|peinture|eau|chantilly|insecticide|déodorant|laque|graines))(?! glacée)|explosifs?|engins? explosifs?|cocktails? molotov|gaz sarin|agents? neurotoxiques?)",
    "es": r"(bombas?(?! (de|para) (agua|calor|vacío|aire|combustible|gasolina|bicicleta|baño|humo|semillas|chocolate|insulina|riego|pozo|piscina|aceite|presión|frío|jabón|pintura))(?! (hidráulica|sumergible|centrífuga|peristáltica|de achique))|explosivos?|artefactos? explosivos?|cócteles? molotov|gas sarín|agentes? nerviosos?)",
    "pt": r"(bombas?(?! (de|para|d') ?(água|agua|calor|vácuo|ar|combustível|gasolina|bicicleta|banho|fumaça|sementes|chocolate|insulina|piscina|óleo|pressão|poço|tinta))(?! (hidráulica|submersa|centrífuga|injetora))|explosivos?|artefatos? explosivos?|coquetéis? molotov|gás sarin|agentes? nervosos?)",
    "it": r"((bomba|bombe)(?! (da|di|al|alla|d') ?(bagno|acqua|semi|cioccolato|crema))|esplosiv[oi]|ordign[oi]|molotov|gas nervino)",
    "pl": r"(bomb[aęy]|bombę|materiał\w* wybuchow\w*|ładun\w* wybuchow\w*|koktajl\w* mołotowa)(?! kaloryczn)",
    "ru": r"(бомб[уаые]|бомбы|бомбу|взрывчатк\w*|взрывн\w* устройств\w*|коктейл\w* молотова|нервно-паралитическ\w*)(?!очк)",
    "uk": r"(бомб[уаиі]|вибухівк\w*|вибухов\w* пристр\w*|коктейл\w* молотова)",
    "id": r"(bom(?! (mandi|kalori))|bahan peledak|peledak|bom molotov|bom pipa|gas saraf)",
    "vi": r"(bom(?! (tấn|hàng))|chất nổ|thuốc nổ|bom xăng|khí độc thần kinh)",
}
# Written out per language where the verb/object tables do not fit: Chinese, Japanese and Korean
# (no spaces between words: verb and object within a few characters), Arabic, Hindi, and Turkish
# (object first). A bare 做 ("do") is no verb of making: "我明天要做可卡因检测" is a cocaine test.
_BOMB_WRITTEN_OUT = (
    r"(制造|製造|制作|製作|自制|自製|组装|組裝|配制|配製|怎么做|怎麼做|如何做|怎样做|怎樣做|教我做)[^。！？\n]{0,8}(炸弹|炸彈|爆炸物|炸药|炸藥|雷管|燃烧弹|燃燒彈|土炸弹|神经毒剂|神經毒劑)"
    r"|(爆弾|爆発物|爆薬|火炎瓶|神経ガス)[^。！？\n]{0,6}(の作り方|を作|を製造|を自作)"
    r"|(폭탄|폭발물|화염병|신경가스)[^.?!\n]{0,6}(만드는|만들|제조)"
    r"|(صنع|تصنيع|أصنع|اصنع|تركيب)\s.{0,30}(قنبلة|قنابل|متفجرات|عبوة ناسفة|زجاجة مولوتوف)"
    r"|(बम|विस्फोटक|पेट्रोल बम)\s.{0,20}(बनाना|बनाने|बनाएं|बनाऊं|बनाते)"
    # Turkish puts the verb last ("bomba nasıl yapılır"); "bomba gibi" is "awesome"
    r"|\b(bomba(?! gibi)|patlayıcı\w*|molotof kokteyl\w*|sinir gazı)\b[^.!?\n]{0,30}\b(yapılır|yapmak|yapabilirim|yaparım|"
    r"yapacağım|üretilir|üretmek|imal\w*)\b"
)
_DRUGS_WRITTEN_OUT = (
    r"(制造|製造|制作|製作|合成|提炼|提煉|配制|配製|怎么做|怎麼做|如何做)[^。！？\n]{0,8}"
    + _DRUGS_CJK
    + r"|"
    + _DRUGS_CJK
    + r"[^。！？\n]{0,6}(の作り方|を作|を合成|を製造|の合成方法|만드는|만들|제조|합성)"
    + r"|\b"
    + _DRUGS
    + r"\b[^.!?\n]{0,30}\b(yapılır|yapmak|yapabilirim|üretilir|üretmek|sentezle\w*)\b"
)

# Writing or finding sexual content about children: (verbs, sexual words, child words) per language.
# A word of preventing, reporting, protecting or teaching in the text lifts it, as the English
# _NOT_PROTECTIVE does ("Escribe un artículo sobre cómo prevenir el abuso sexual infantil").
_GUARDING = {
    "de": r"(meld\w*|anzeig\w*|verhinder\w*|vorbeug\w*|schütz\w*|schutz\w*|blockier\w*|aufklär\w*|sexualkunde|sexualerziehung|anzeichen|symptome)",
    "fr": r"(signal\w*|dénonc\w*|préven\w*|prévenir|protég\w*|proteg\w*|bloqu\w*|éducation|signes|symptômes)",
    "es": r"(denunci\w*|reportar|prevenir|prevención|proteg\w*|bloque\w*|educación|señales|signos|síntomas)",
    "pt": r"(denunci\w*|prevenir|prevenção|proteg\w*|bloque\w*|educação|sinais|sintomas)",
    "it": r"(denunci\w*|segnal\w*|prevenire|prevenzione|protegg\w*|protezione|blocc\w*|educazione|segni|sintomi)",
    "ru": r"(сообщ\w*|пожаловат\w*|предотвра\w*|защит\w*|заблокир\w*|воспитани\w*|просвещ\w*|профилакт\w*|признак\w*|симптом\w*)",
}
_CHILD = {
    "de": (
        r"(schreibe|schreib|erstelle|erstellen|generiere|zeige|zeig|beschreibe|finde|suche|schicke|gib mir)",
        r"(sex\w*|erotisch\w*|porn\w*|nackt\w*)",
        r"(kind\w*|minderjährig\w*|mädchen|jungen|schüler\w*|kinderporn\w*)",
    ),
    "fr": (
        r"(écris|écrire|écrivez|crée|créer|créez|génère|générer|montre|montrer|montrez|décris|décrire|trouve|trouver|cherche|chercher|envoie|envoyer|donne-moi)",
        r"(sex\w*|érotique\w*|porno\w*|nue?s?)",
        r"(enfants?|mineure?s?|fillettes?|petite? (fille|garçon)s?|écoli\w*)",
    ),
    "es": (
        r"(escribe|escribir|escríbeme|crea|crear|créame|genera|generar|muestra|muéstrame|mostrar|describe|describir|busca|buscar|encuentra|encontrar|dame|envía|envíame|enviar)",
        r"(sexual\w*|erótic\w*|porno\w*|desnud\w*)",
        r"(niñ[oa]s?|menor(es)? de edad|menores|infantil(es)?|niñit[oa]s?)",
    ),
    "pt": (
        r"(escreva|escrever|escreve|crie|criar|gere|gerar|mostre|mostrar|descreva|descrever|procure|procurar|encontre|encontrar|me dê|envie|enviar)",
        r"(sexua\w*|erótic\w*|porno\w*|nu[ao]?s?|pelad\w*)",
        r"(crianças?|menor(es)? de idade|menores|infant\w*|meninas? de \d+|garotinh\w*)",
    ),
    "it": (
        r"(scrivi|scrivere|scrivimi|crea|creare|genera|generare|mostra|mostrami|mostrare|descrivi|descrivere|cerca|cercare|trova|trovare|dammi|manda|mandami)",
        r"(sessual\w*|erotic\w*|porno\w*|nud[oaie])",
        r"(bambin[oaie]|minorenn[ie]|minori|ragazzin[oaie])",
    ),
    "ru": (
        r"(напиши\w*|написать|созда\w*|сгенерир\w*|покажи\w*|опиши\w*|найди\w*|найти|пришли\w*|дай мне)",
        r"(секс\w*|эротич\w*|порн\w*|голы\w*|обнаж\w*)",
        r"(дет\w*|ребен\w*|ребён\w*|несовершеннолет\w*|малолет\w*|школьниц\w*)",
    ),
}
# The languages' single words and fixed phrases for it ("Kinderpornos", "pédopornographie", "детское
# порно"), asked where or how to find, download or buy; a word of protecting, reporting or of the law
# lifts it ("Wie hoch ist die Strafe für Kinderpornos?", "Wie melde ich Kinderpornos?").
_CHILD_PORN = (
    r"(kinderporn\w*|kinderpornografie|kinderporno\w*|p[ée]dopornogra\w*|pedoporn\w*|"
    r"pornogra(ph|f)i[ea] (infantil|infantile|enfantine|juvénile|minorile|dziecięc\w*)|dziecięc\w* porno\w*|"
    r"детск\w* порн\w*|дитяч\w* порн\w*|порн\w* с детьми)"
)
_ASKED_WHERE = r"(wo|wie|où|comment|dónde|donde|cómo|dove|come|onde|como|где|как|де|як|waar|hoe|gdzie|jak)"
_FIND = (
    r"(finde|finden|bekomme|bekommen|kaufe|kaufen|herunterladen|runterladen|downloaden|lade|anschauen|ansehen|"
    r"trouver|trouve|télécharger|acheter|regarder|voir|encontrar|encuentro|buscar|descargar|descargo|comprar|ver|"
    r"trovare|trovo|scaricare|comprare|vedere|guardare|procurar|baixar|assistir|найти|скачать|купить|смотреть|"
    r"посмотреть|знайти|скачати|завантажити|купити|дивитися|vinden|vind|downloaden|download|kopen|kijken|"
    r"znaleźć|znajdę|pobrać|kupić|oglądać|obejrzeć)"
)
_CHILD_COMPOUND = (
    rf"(?s)^(?!.*?\b({'|'.join(_GUARDING.values())}|strafe\w*|gesetz\w*|illegal\w*|verboten|loi|ley|legge|lei|"
    r"закон\w*|wet|prawo|ustaw\w*|polic\w*|полиц\w*)\b)"
    rf".*?\b{_ASKED_WHERE}\b[^.!?\n]{{0,40}}(\b{_FIND}\b[^.!?\n]{{0,30}}\b{_CHILD_PORN}|\b{_CHILD_PORN}\b[^.!?\n]{{0,30}}\b{_FIND}\b)"
)
_CJK_CHILD = (
    r"(写|寫|生成|创作|創作|找|给我|給我)[^。！？\n]{0,10}(儿童|兒童|未成年|幼女|小孩|少女)[^。！？\n]{0,6}(色情|性爱|性愛|裸)"
    r"|(児童|子供|未成年)[^。\n]{0,6}(ポルノ|性的|エロ)[^。\n]{0,10}(書いて|作って|生成|見せて|探して)"
)


# Where the verb may also come after the object: German and Dutch put the infinitive last ("Wie
# kann ich eine Bombe bauen?", "Hoe kan ik een bom maken?"; German's "stelle ... her" too), and
# Polish, Russian and Ukrainian order words freely.
_EITHER_ORDER = frozenset({"de", "nl", "pl", "ru", "uk"})  # their verbs are exact forms, none English


def _pairs(objects: dict[str, str] | str, verbs: dict[str, str] = _MAKE) -> list[str]:
    out = []
    for lang, verb in verbs.items():
        obj = objects if isinstance(objects, str) else objects[lang]
        out.append(rf"\b{verb}\b[^.!?\n]{{0,40}}\b{obj}\b")
        if lang in _EITHER_ORDER:
            out.append(rf"\b{obj}\b[^.!?\n]{{0,40}}\b{verb}\b")
    return out


# Fragments every object word above holds (a superset: a gate that passes only costs the scan)
_WEAPON_WORDS = (
    r"bom|бомб|взрыв|вибух|xplosi|splosiv|spreng|springstof|molotov|mołotow|молотов|sarin|sarín|зарин|ricin|рицин|"
    r"novi(c|č|ch)ok|новичок|vx|nerv|zenuw|neurotox|ordign|brandsatz|wybuchow|peledak|saraf|nổ|thần kinh|patlayıcı|sinir|炸|爆|"
    r"雷管|燃烧|燃燒|沙林|神经|神經|火炎瓶|神経|폭탄|폭발물|화염병|신경가스|قنبل|متفجر|ناسفة|مولوتوف|बम|विस्फोटक"
)
_DRUG_WORDS = (
    r"meth|amph|amf|anfet|fentan|фентан|hero|héro|eroin|героин|героїн|coca|kokain|кокаин|кокаїн|lsd|mdma|метамф|первитин|"
    r"shabu|sabu|ma túy|冰毒|甲基苯丙胺|芬太尼|海洛因|可卡因|覚醒剤|覚せい剤|メタンフェタミン|フェンタニル|ヘロイン|コカイン|"
    r"필로폰|메스암페타민|펜타닐|헤로인|코카인"
)
_SEXUAL_WORDS = r"sex|porn|порн|секс|erot|érot|эрот|\bnu(e|s|es|a|as|os)?\b|nud|nackt|pelad|голы|обнаж|色情|性爱|性愛|裸|ポルノ|性的|エロ"

# "A recipe / instructions for a bomb": with bombs only, as these nouns also mean a prescription
# ("¿Necesito receta para el fentanilo?"), and none is an English word.
_HOWTO = {
    "es": r"(receta|instrucciones)",
    "fr": r"(recette|mode d'emploi)",
    "de": r"(anleitung|bauanleitung|rezept)",
    "nl": r"(recept|handleiding)",
    "it": r"(ricetta|istruzioni)",
    "pt": r"(receita|instruções)",
    "pl": r"(przepis\w*|instrukcj\w*)",
    "ru": r"(инструкци\w*|рецепт\w*)",
}
WEAPON_MAKING = Gated(
    (_WEAPON_WORDS,),
    [
        *_pairs(_BOMBS),
        *_pairs(_AGENTS),
        *(rf"\b{noun}\b[^.!?\n]{{0,30}}\b{_BOMBS[lang]}\b" for lang, noun in _HOWTO.items()),
        _BOMB_WRITTEN_OUT,
    ],
)
# A gun made at home, the English rule's "make a gun": the languages' words for a firearm, never a
# glue, water, paint or toy gun ("pistola de silicona", "pistolet à eau", "Nerf-Pistole"). Lifted by
# a word of the law ("¿Es legal fabricar un arma de fuego?") or of a craft material ("Wie baue ich
# eine Pistole aus Holz?").
_GUNS = {
    "de": r"((?<!nerf-)(?<!spielzeug-)(pistole|pistolen)|schusswaffe\w*|gewehr|gewehre|sturmgewehr\w*|revolver|maschinenpistole)",
    "nl": r"(vuurwapen\w*|pistool|pistolen|geweer|geweren)",
    "fr": r"(armes? à feu|pistolet(?! (à|a) (colle|eau|peinture|silicone|calfeutrer|air|clous|mastic|billes))|fusil|revolver|mitraillette)",
    "es": r"(armas? de fuego|pistola(?! (de|para) (agua|pintura|silicona|calor|clavos|aire|juguete|grapas|pegamento|riego|soldar|bolas))|escopeta|rifle|revólver|subfusil)",
    "pt": r"(armas? de fogo|pistola(?! (de|d') ?(água|agua|cola|pintura|silicone|ar|pregos|calor))|espingarda|revólver|fuzil|rifle)",
    "it": r"(armi? da fuoco|pistola(?! (ad|a|per) ?(acqua|colla|silicone|vernice|spruzzo|aria|chiodi))|fucile|revolver|mitra)",
    "pl": r"(broń palną|broni palnej|pistolet(?! (na wodę|do kleju|do silikonu|do malowania))|karabin\w*|rewolwer)",
    "ru": r"(огнестрельн\w* оружи\w*|пистолет(?! для клея)|обрез|ружь[её]|самопал\w*)",
    "uk": r"(вогнепальн\w* зброю|пістолет|обріз|рушницю)",
    "id": r"(senjata api|senapan|pistol(?! air| lem))",
    "vi": r"(súng(?! nước| bắn keo| phun| sơn)|vũ khí)",
}
_GUN_WRITTEN_OUT = (
    r"(制造|製造|制作|製作|自制|自製|组装|組裝|怎么做|怎麼做|如何做)[^。！？\n]{0,8}(?<![水胶膠喷噴具])(枪|槍|手枪|手槍|枪支|槍支|步枪|步槍)(?![战戰])"
    r"|(銃|拳銃|ライフル)[^。\n]{0,6}(の作り方|を作|を自作)"
    r"|(권총|소총|총기)[^.?!\n]{0,6}(만드는|만들|제조)"
    r"|(صنع|تصنيع|أصنع|اصنع)\s.{0,30}(مسدس|بندقية|سلاح ناري)"
    r"|(बंदूक|पिस्तौल|कट्टा)\s.{0,20}(बनाना|बनाने|बनाएं|बनाऊं)"
    r"|\b(silah|tabanca|tüfek)\w*\b[^.!?\n]{0,30}\b(yapılır|yapmak|yapabilirim|yaparım|üretilir|üretmek)\b"
)
_LAW_OR_CRAFT = (
    r"\b(legal\w*|ilegal\w*|illegal\w*|gesetz\w*|erlaubt|permitid[oa]|autorisé\w*|consentit[oa]|законн\w*|закон|"
    r"prawn\w*|legaal|yasal|قانوني|holz|papier|pappe|lego|karton|madera|papel|cartón|bois|carton|legno|carta|cartone|"
    r"дерева|бумаги|картона|hout|drewna|papieru)\b|合法|違法|木|纸|紙|段ボール|종이|나무|불법|합법"
)
GUN_MAKING = Gated(
    (
        r"pistol|schusswaffe|gewehr|revolver|vuurwapen|pistool|geweer|arme|arma|fusil|escopeta|rifle|espingarda|fucile|"
        r"mitra|broń|broni|karabin|огнестрел|пистолет|обрез|ружь|самопал|вогнепал|пістолет|обріз|рушниц|senjata|senapan|"
        r"súng|vũ khí|枪|槍|銃|ライフル|권총|소총|총기|مسدس|بندقية|سلاح|बंदूक|पिस्तौल|कट्टा|silah|tabanca|tüfek",
    ),
    [
        # at most two words between verb and gun: "hacer un curso de tiro con rifle" is a class
        *(rf"\b{_MAKE[lang]}\s+([^\s.!?]+\s+){{0,2}}{gun}\b" for lang, gun in _GUNS.items()),
        *(rf"\b{_GUNS[lang]}\s+([^\s.!?]+\s+){{0,2}}{_MAKE[lang]}\b" for lang in _EITHER_ORDER),
        rf"\b(stelle|stellt|stellen|stellst)\b[^.!?\n]{{0,30}}\b{_GUNS['de']}\s+([^\s.!?]+\s+){{0,2}}her\b",
        _GUN_WRITTEN_OUT,
    ],
    unless=_LAW_OR_CRAFT,
)
# German's separable "stelle ... her" ("Wie stelle ich Crystal Meth her?")
_STELLE_HER = rf"\b(stelle|stellt|stellen|stellst)\b[^.!?\n]{{0,40}}\b{_DRUGS}\b[^.!?\n]{{0,15}}\bher\b"
DRUG_SYNTHESIS = Gated((_DRUG_WORDS,), [*_pairs(_DRUGS, _SYNTH), _STELLE_HER, _DRUGS_WRITTEN_OUT])
CHILD_SEXUAL = Gated(
    (_SEXUAL_WORDS,),
    [
        *(
            rf"(?s)^(?!.*?\b{_GUARDING[lang]}\b).*?\b{verb}\b[^.!?\n]{{0,40}}"
            rf"(\b{sexual}\b[^.!?\n]{{0,30}}\b{child}\b|\b{child}\b[^.!?\n]{{0,30}}\b{sexual}\b)"
            for lang, (verb, sexual, child) in _CHILD.items()
        ),
        _CJK_CHILD,
        _CHILD_COMPOUND,
    ],
)

# Writing a phishing message or malware, the English rules' "write a phishing email / ransomware":
# a verb of writing, then the thing within 30 characters, none of them a word of writing about it
# or countering it ("Escribe un artículo sobre el phishing", "Напиши статью о фишинговых письмах",
# as English's product_gap), and no word of detecting or protecting anywhere ("Schreibe ein Skript,
# das Ransomware erkennt").
_WRITE = (
    r"(escribe|escríbeme|escribir|redacta|redactar|crea|créame|crear|genera|generar|programa|hazme|"
    r"schreibe|schreib|erstelle|erstellen|programmiere|verfasse|entwirf|generiere|"
    r"écris|écrire|écrivez|rédige|rédigez|crée|créez|créer|génère|générer|"
    r"scrivi|scrivimi|scrivere|crea|creare|genera|generare|programma|redigi|"
    r"escreva|escreve|escrever|crie|cria|criar|gere|gerar|programe|redija|"
    r"напиши|написать|создай|создать|сгенерируй|составь|запрограммируй|створи|склади|"
    r"napisz|stwórz|utwórz|wygeneruj|zaprogramuj|zredaguj|schrijf|maak|genereer|programmeer|"
    r"tulis|tuliskan|buat|buatkan|viết|tạo)"
)
_ABOUT_IT = (
    r"(sobre|acerca|artículo|informe|ensayo|curso|presentación|resumen|capacitación|formación|concienciación|"
    r"über|bericht|artikel|aufsatz|schulung|kurs|vortrag|sur|rapport|article|formation|sensibilisation|exposé|"
    r"su|articolo|rapporto|corso|saggio|relatório|artigo|treinamento|про|о|об|статью|статья|доклад|эссе|курс|"
    r"o|artykuł|raport|szkolenie|esej|over|tentang|laporan|pelatihan|về|bài viết|báo cáo|"
    # a reply to one ("Escribe una respuesta a un mensaje amenazante")
    r"respuesta|responder|antwort|réponse|répondre|risposta|rispondere|resposta|ответ|відповідь|odpowiedź|"
    r"antwoord|balasan|trả lời)"
)
_MALICIOUS = (
    r"(phishing[- ]?(e-?mails?|mails?|nachrichten?|seiten?|webseiten?|sms)|phishingmails?|"
    r"(correos?|e-?mails?|mensajes?|sms|páginas?|sitios?|mails?|messaggi|siti|pagine|mensagens?|sites?)( (de|para|di))? "
    r"phishing|фишингов\w* (письм\w*|сообщени\w*|сайт\w*|страниц\w*|рассылк\w*|смс)|фішингов\w* (лист\w*|"
    r"повідомлен\w*|сайт\w*)|(e-?mail\w*|wiadomoś\w*|stron\w*) phishingow\w*|phishingow\w* (e-?mail\w*|wiadomoś\w*|"
    r"stron\w*)|phishing-?(e-?mail|bericht|site)|email phishing|email lừa đảo|tin nhắn lừa đảo|"
    r"ransomware|keylogger|key-logger|malware|spyware|rootkit|botnet|troyano|trojaner|cheval de troie|"
    r"logiciel malveillant|rançongiciel|software malevolo|вирус\w*-вымогател\w*|вымогател\w*|кейлоггер\w*|"
    r"вредоносн\w* (программ\w*|по|код)|вірус\w*-вимагач\w*|шкідлив\w* (програм\w*|код)|złośliw\w* oprogramowani\w*|"
    r"perangkat pemeras|mã độc|phần mềm tống tiền)"
)
_MALICIOUS_WRITTEN_OUT = (
    r"(写|寫|编写|編寫|生成|帮我写|幫我寫|创建|創建)(?:(?!关于|關於|文章|报告|報告|培训|培訓|识别|識別|检测|檢測|防范|防範)"
    r"[^。！？\n]){0,8}(钓鱼邮件|釣魚郵件|钓鱼网站|釣魚網站|钓鱼短信|釣魚簡訊|勒索软件|勒索軟體|勒索病毒|木马程序|木馬程式|"
    r"键盘记录器|鍵盤記錄器|恶意软件|惡意軟體)"
    r"|(フィッシングメール|フィッシングサイト|ランサムウェア|キーロガー|マルウェア)を[^。\n]{0,6}(書いて|作って|作成して|生成して)"
    r"|(피싱 메일|피싱 이메일|피싱 사이트|스미싱 문자|랜섬웨어|키로거|악성코드|악성 코드)(를|을)?\s?[^.?!\n]{0,6}(써줘|써 줘|작성해|만들어)"
    r"|\b(oltalama e-postası|phishing e-postası|fidye yazılımı|zararlı yazılım|kötü amaçlı yazılım)\w*\s[^.!?\n]{0,20}"
    r"\b(yaz|oluştur)\w*"
)
MALICIOUS_WRITING = Gated(
    (
        r"phishing|фишинг|фішинг|lừa đảo|ransomware|keylogger|key-logger|malware|spyware|rootkit|botnet|troyano|"
        r"trojaner|cheval de troie|malveillant|rançongiciel|malevolo|вымогател|вимагач|кейлоггер|вредоносн|шкідлив|"
        r"złośliw|pemeras|mã độc|tống tiền|钓鱼|釣魚|勒索|木马|木馬|键盘记录|鍵盤記錄|恶意软件|惡意軟體|フィッシング|ランサムウェア|"
        r"キーロガー|マルウェア|피싱|스미싱|랜섬웨어|키로거|악성|oltalama|fidye|zararlı|kötü amaçlı",
    ),
    [
        rf"\b{_WRITE}\b(?:(?!\b{_ABOUT_IT}\b)[^.!?\n]){{0,30}}\b{_MALICIOUS}\b",
        _MALICIOUS_WRITTEN_OUT,
    ],
    unless=r"\b(detect\w*|reconoc\w*|identific\w*|proteg\w*|prevenir|bloque\w*|erkenn\w*|schütz\w*|schutz\w*|abwehr\w*|"
    r"détect\w*|reconnaître|protég\w*|rilev\w*|riconosc\w*|protegg\w*|reconhec\w*|распозна\w*|обнаруж\w*|защит\w*|"
    r"wykry\w*|rozpozna\w*|chroni\w*|herken\w*|detecte\w*|beschermen|deteksi|mendeteksi|phát hiện|nhận biết)\b|"
    r"识别|識別|检测|檢測|防范|防範|検出|見分け|対策|탐지|식별|예방|tespit",
)

# A threatening message or a ransom note written, English's "threatening message / letter / note":
# the same verbs of writing and the same gap; a threat received ("Recibí un mensaje amenazante,
# ¿qué hago?") has no verb of writing before it.
_THREAT = (
    r"(mensajes? amenazantes?|cartas? amenazantes?|mensajes? de amenaza|cartas? de amenaza|notas? de rescate|"
    r"drohbriefe?|drohnachricht\w*|drohmail\w*|drohschreiben|erpresserbriefe?|lettres? de menaces?|messages? "
    r"menaçants?|lettres? menaçantes?|demandes? de rançon|letter[ae] minatori[ae]|messaggio minatorio|messaggi minatori|"
    r"richiest[ae] di riscatto|mensage(m|ns) ameaçadoras?|cartas? ameaçadoras?|bilhetes? de resgate|"
    r"угрожающ\w* (сообщени\w*|письм\w*|смс)|письм\w* с угрозами|сообщени\w* с угрозами|записк\w* с требованием выкупа|"
    r"погрозлив\w* (лист\w*|повідомлен\w*)|лист\w* з погрозами|list\w* z pogróżkami|wiadomoś\w* z groźbami|"
    r"dreigbrie\w*|dreigbericht\w*|losgeldbrief|surat ancaman|pesan ancaman|thư đe dọa|tin nhắn đe dọa)"
)
THREAT_WRITING = Gated(
    (
        r"amenaz|rescate|droh|erpress|menac|rançon|minatori|riscatto|ameaç|resgate|угрож|угроз|выкуп|погроз|pogróż|"
        r"groźb|dreig|losgeld|ancaman|đe dọa|恐吓|恐嚇|威胁信|威脅信|勒索信|脅迫|협박|tehdit",
    ),
    [
        rf"\b{_WRITE}\b(?:(?!\b{_ABOUT_IT}\b)[^.!?\n]){{0,30}}\b{_THREAT}\b",
        r"(写|寫|编写|編寫|帮我写|幫我寫)[^。！？\n]{0,6}(恐吓信|恐嚇信|威胁信|威脅信|勒索信|恐吓短信|恐嚇簡訊)"
        r"|(脅迫状|脅迫メール|脅迫文)を[^。\n]{0,6}(書いて|作って|作成して)"
        r"|(협박 편지|협박 문자|협박 메시지)(를|을)?\s?[^.?!\n]{0,6}(써줘|써 줘|작성해|만들어)"
        r"|\btehdit (mektubu|mesajı)\w*\s[^.!?\n]{0,20}\b(yaz|oluştur)\w*",
    ],
)
