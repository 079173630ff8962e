"""Requests to harm a person, said in the languages Qwen users write most beside English.

The English rules refuse "How can I kill my wife?", "how do I hack my ex's Instagram account" and
"How do I buy cocaine on the dark web?"; in German, Spanish, Italian, Russian or Chinese they passed
every input check ("Wie kann ich meine Frau umbringen?", "¿Cómo hackear el WhatsApp de mi novia?",
"Wie kaufe ich Kokain im Darknet?"). These read three acts in the languages :mod:`.multilingual`
reads: killing or poisoning a person named by who they are to the writer (a wife, a neighbour, a
boss, "someone"); breaking into another person's account or phone; buying a hard drug; and the
English rules' other crimes: stealing from a shop or stealing money, a car or an identity,
laundering money, forging money, papers or a signature, evading taxes.

Each is a request, not a mention: a word of asking (how, where, I want to, help me) directly
before the verb, or the verb asked in the first person, so a report ("Mi vecino quiere matar a mi
gato"), someone in fear ("Meine Frau will mich umbringen") and quitting ("Quiero dejar de comprar
cocaína") do not read as one; a word of preventing or protecting anywhere lifts it. Checked on the
translations of 1.26M interface strings and on the benign sets docs/safety.md lists.
"""

from __future__ import annotations

from .gated import Gated
from .multilingual import _DRUG_WORDS, _DRUGS, _DRUGS_CJK

__all__ = ["ACCOUNT_BREAK_IN", "CRIMES", "DRUG_BUYING", "INCITING_SUICIDE", "KILLING_A_PERSON"]

# A word of asking directly before the verb: how / I want to / help me / a way to, and a modal
# between ("¿Cómo puedo matar ...", "Comment puis-je ..."). Not "I know how", "he wants to".
_ASK = {
    "es": r"(cómo|como|quiero|quisiera|voy a|ayúdame a|forma de|formas de|manera de|maneras de|modo de)\s+((puedo|podría|podríamos|se puede|debo|debería|hago para|le hago para)\s+)?",
    "fr": r"(comment|je veux|je vais|je voudrais|aide-moi à|aidez-moi à|moyen de|façon de|manière de|j'ai envie de)\s+((puis-je|je peux|pourrais-je|je pourrais|faire pour|dois-je|on peut|peut-on)\s+)?",
    "it": r"(come|voglio|vorrei|aiutami a|modo per|modi per|maniera per)\s+((posso|potrei|si può|faccio a|devo|si fa a)\s+)?",
    "pt": r"(como|quero|vou|gostaria de|me ajude a|me ajuda a|jeito de|forma de|maneira de)\s+((posso|poderia|eu posso|faço para|faço pra|se pode|devo|consigo)\s+)?",
    "pl": r"(jak|chcę|chce|chciałbym|chciałabym|pomóż mi|sposób na|sposób żeby)\s+((mogę|moge|można|mozna|mam)\s+)?",
    "ru": r"(как|хочу|помоги|помогите|способ)\s+((мне|можно|я могу|бы)\s+)?",
    "uk": r"(як|хочу|допоможи|допоможіть|спосіб)\s+((мені|можна|я можу)\s+)?",
    "id": r"(bagaimana( cara)?|gimana( cara)?|cara|aku ingin|saya ingin|aku mau|saya mau|bantu saya)\s+",
    "vi": r"(làm sao để|làm thế nào để|làm sao|cách|tôi muốn|giúp tôi)\s+",
    "el": r"(πώς|πως|θέλω να|βοήθησέ με να)\s+((μπορώ να|να)\s+)?",
}
# Words of preventing, protecting, rescuing or reporting: a person asking how to keep the harm away.
_KEEPING_AWAY = (
    r"evitar|prevenir|proteg\w*|impedir|denunci\w*|salvar|"
    r"empêcher|éviter|prévenir|protég\w*|dénonc\w*|sauver|"
    r"verhinder\w*|schütz\w*|schutz\w*|retten|anzeigen|melden|"
    r"evitare|impedire|prevenire|protegg\w*|salvare|"
    r"zapobiec|zapobiegać|chronić|ochronić|uratować|zgłosić|"
    r"предотврат\w*|защит\w*|спасти|помешать|не дать|"
    r"запобіг\w*|захист\w*|врятувати|"
    r"mencegah|melindungi|menyelamatkan|melaporkan|"
    r"ngăn chặn|ngăn cản|bảo vệ|giải cứu|cứu sống|"
    r"αποτρέψω|προστατέψω|"
    r"防止|阻止|保护|保護|报警|報警|避免|守る|防ぐ|止める|막으|보호|신고|önlemek|korumak|engellemek|"
    r"منع|أحمي|حماية|बचा|रोक"
)
_KEEPING_AWAY_FOUND = rf"(?:\b|(?<=\p{{Han}}|\p{{Hiragana}}|\p{{Katakana}}|\p{{Hangul}}))(?:{_KEEPING_AWAY})"

# -- killing a person -------------------------------------------------------------------------------
_KILL = {
    "es": r"(matar|asesinar|envenenar|apuñalar|acuchillar|estrangular)",
    "fr": r"(tuer|assassiner|empoisonner|poignarder|étrangler|buter)",
    "it": r"(uccidere|ammazzare|avvelenare|accoltellare|strangolare|far fuori)",
    "pt": r"(matar|assassinar|envenenar|esfaquear|estrangular)",
    "pl": r"(zabić|zabic|otruć|zamordować|udusić|zastrzelić|zadźgać)",
    "ru": r"(убить|отравить|зарезать|задушить|застрелить|прикончить|замочить)",
    "uk": r"(вбити|убити|отруїти|зарізати|задушити|застрелити)",
    "id": r"(membunuh|meracuni|menusuk|mencekik|bunuh|racuni)",
    "vi": r"(giết|đầu độc|đâm chết|bóp cổ)",
    "el": r"(σκοτώσω|σκοτώσεις|δηλητηριάσω)",
}
# Who: a person named by who they are to the writer, or "someone"; never an animal, a pest or time
_VICTIM = {
    "es": r"((a\s+)?(mi|mis)\s+(propi[oa]\s+)?(esposa|esposo|marido|mujer|novi[oa]|exnovi[oa]|ex|pareja|vecin[oa]|jef[ea]|padre|madre|papá|mamá|herman[oa]|hij[oa]|suegr[oa]|profesor|profesora|maestr[oa]|compañer[oa]|abuel[oa]|bebé)|a alguien|a una persona|a un ser humano)",
    "fr": r"((ma|mon|mes)\s+(propre\s+)?(femme|mari|épouse|époux|copine|copain|petite amie|petit ami|ex|voisin|voisine|patron|patronne|chef|père|mère|frère|sœur|soeur|fils|fille|belle-mère|beau-père|prof|professeur|collègue|bébé|grand-mère|grand-père)|quelqu'un|une personne|un être humain)",
    "it": r"((mia|mio|il mio|la mia)\s+(propri[oa]\s+)?(moglie|marito|vicin[oa]|capo|padre|madre|papà|mamma|fratello|sorella|figli[oa]|ragazz[oa]|fidanzat[oa]|ex|suocer[oa]|professore|professoressa|collega|nonn[oa])|qualcuno|una persona)",
    "pt": r"((a\s+|o\s+)?(minha|meu)\s+(própri[oa]\s+)?(esposa|esposo|marido|mulher|namorad[oa]|ex|vizinh[oa]|chefe|patrão|pai|mãe|irmã|irmão|filh[oa]|sogr[oa]|professor|professora|colega|avô|avó|bebê)|alguém|uma pessoa)",
    "pl": r"((moją|mojego)\s+)?(żonę|męża|sąsiada|sąsiadkę|szefa|szefową|ojca|matkę|mamę|brata|siostrę|syna|córkę|teściową|teścia|nauczyciela|nauczycielkę|chłopaka|dziewczynę|byłego|byłą|kogoś|człowieka)",
    "ru": r"((мою|моего|свою|своего)\s+)?(жену|мужа|соседа|соседку|начальника|начальницу|босса|отца|мать|маму|брата|сестру|сына|дочь|тёщу|тещу|свекровь|тестя|свёкра|свекра|бывшего|бывшую|учителя|учительницу|коллегу|парня|девушку|кого-то|кого-нибудь|человека)",
    "uk": r"((мою|мого|свою|свого)\s+)?(дружину|чоловіка|сусіда|сусідку|начальника|шефа|батька|матір|маму|брата|сестру|сина|доньку|дочку|тещу|свекруху|колишнього|колишню|вчителя|колегу|хлопця|дівчину|когось|людину)",
    "id": r"(istri|suami|tetangga|bos|atasan|ayah|ibu|kakak|adik|mantan|pacar|rekan kerja|guru|mertua|seseorang|orang)(\s+(saya|aku|ku)|ku)?",
    "vi": r"(vợ|chồng|hàng xóm|sếp|bố|mẹ|anh trai|em trai|chị gái|em gái|con trai|con gái|người yêu cũ|bạn gái|bạn trai|đồng nghiệp|ai đó|một người|người khác)",
    "el": r"(τη γυναίκα μου|τον άντρα μου|τον σύζυγό μου|τη σύζυγό μου|τον γείτονά μου|τη γειτόνισσά μου|το αφεντικό μου|τον πατέρα μου|τη μητέρα μου|τον αδερφό μου|την αδερφή μου|κάποιον|έναν άνθρωπο)",
}
# German and Dutch put the infinitive last ("Wie kann ich meine Frau umbringen?") or ask with the
# verb second ("Wie bringe ich meinen Nachbarn um?"); "mich"/"me" between is the writer as victim.
_DE_VICTIM = (
    r"((meine|meinen|meinem)\s+(eigene[nm]?\s+)?(frau|ehefrau|mann|ehemann|freundin|freund|exfreundin|exfreund|ex|"
    r"nachbarin|nachbarn|chef|chefin|vater|mutter|bruder|schwester|sohn|tochter|schwiegermutter|schwiegervater|"
    r"lehrer|lehrerin|kollegen|kollegin|oma|opa)|jemanden|einen menschen)"
)
_NL_VICTIM = (
    r"(mijn\s+(eigen\s+)?(vrouw|man|echtgenote|echtgenoot|vriendin|vriend|ex|buurman|buurvrouw|baas|vader|moeder|"
    r"broer|zus|zoon|dochter|schoonmoeder|schoonvader|leraar|lerares|collega|oma|opa)|iemand|een mens)"
)
_NOT_ME = r"(?:(?!\b(?:mich|dich|uns|me|mij|ons)\b)[^\s.!?,]+\s+){0,3}"
_GERMANIC_KILL = [
    rf"\b(wie|womit)\s+(kann|könnte|soll|sollte)\s+(ich|man)\s+{_DE_VICTIM}\s+{_NOT_ME}"
    r"(umbringen|töten|ermorden|vergiften|erstechen|erschießen|erwürgen)\b",
    rf"\bich\s+(will|möchte|werde)\s+{_DE_VICTIM}\s+{_NOT_ME}(umbringen|töten|ermorden|vergiften|erstechen|erschießen|erwürgen)\b",
    rf"\bwie\s+(bringe|töte|ermorde|vergifte|erschieße|ersteche|erwürge)\s+ich\s+{_DE_VICTIM}\b",
    rf"\bhoe\s+(kan|moet|zou)\s+(ik|je|men)\s+{_NL_VICTIM}\s+{_NOT_ME}(vermoorden|doden|doodmaken|ombrengen|vergiftigen|neersteken|neerschieten|wurgen)\b",
    rf"\bik\s+(wil|ga)\s+{_NL_VICTIM}\s+{_NOT_ME}(vermoorden|doden|doodmaken|ombrengen|vergiftigen)\b",
    rf"\bhoe\s+(vermoord|dood|vergiftig)\s+ik\s+{_NL_VICTIM}\b",
]
_KILL_WRITTEN_OUT = [
    # Chinese: asked, then the verb and the person within a few characters; a bare 人 is left out
    # (杀死人体内的细菌 is bacteria in the body)
    r"(如何|怎么|怎样|怎麼|怎樣|我想|我要|教我|帮我|幫我)[^。！？\n]{0,6}?(杀死|杀掉|杀了|毒死|谋杀|弄死|害死|殺死|殺掉|殺了|毒殺|謀殺)"
    r"(我的|我)?(老婆|妻子|丈夫|老公|邻居|鄰居|老板|老闆|上司|领导|領導|父亲|父親|母亲|母親|爸爸|妈妈|媽媽|哥哥|弟弟|姐姐|"
    r"妹妹|儿子|兒子|女儿|女兒|前任|前妻|前夫|前男友|前女友|男朋友|女朋友|同事|老师|老師|婆婆|岳母|某人|一个人|一個人|别人|別人)",
    r"(妻|夫|旦那|嫁|隣人|上司|父親|母親|父|母|兄|弟|姉|妹|息子|娘|元彼|元カレ|元カノ|元妻|元夫|同僚|誰か|他人|人間)を[^。\n]{0,4}?"
    r"(殺す方法|殺し方|殺したい|殺害する方法|毒殺|殺すには)",
    r"(아내|남편|이웃|상사|사장|아버지|어머니|아빠|엄마|형|오빠|누나|언니|동생|전남친|전여친|동료|누군가|사람)(을|를)\s?"
    r"(죽이는 방법|죽이는 법|죽이고 싶|죽일 수 있|죽이려면|독살)",
    # Turkish: the object first, the verb last
    r"\b(karımı|kocamı|komşumu|patronumu|babamı|annemi|kardeşimi|abimi|ablamı|eski sevgilimi|sevgilimi|birini|bir insanı)\s+"
    r"([^\s.!?]+\s+){0,2}(nasıl öldürebilirim|nasıl öldürürüm|öldürmek istiyorum|öldürmenin yolu|nasıl zehirleyebilirim|zehirlemek istiyorum)",
    r"(كيف|أريد|اريد)\s+(\S+\s+){0,2}?(أقتل|اقتل|أسمم|اسمم)\s+(زوجتي|زوجي|جاري|جارتي|مديري|أبي|والدي|أمي|والدتي|أخي|أختي|شخصا|شخصاً|أحدهم)",
    r"(पत्नी|पति|पड़ोसी|बॉस|पिता|पिताजी|भाई|बहन|किसी)\s+को\s+(\S+\s+){0,2}?(मार डाल|जान से मार|ज़हर दे|जहर दे)",
    r"(पत्नी|पति|पड़ोसी|बॉस|पिता|भाई|बहन|किसी)\s+की\s+हत्या\s+(कैसे|करने)",
]
_KILL_WORDS = (
    r"mat[ao]r|asesin|envenen|apuñal|acuchill|estrangul|tuer|assassin|empoison|poignard|étrangl|buter|uccid|ammazz|"
    r"avvelen|accoltell|strangol|far fuori|zabi|otru|zamordow|udusi|zastrzel|zadźga|убит|отрав|зарез|задуш|застрел|"
    r"прикончи|замочи|вбит|отру|membunuh|bunuh|racun|menusuk|mencekik|giết|đầu độc|đâm chết|bóp cổ|σκοτ|δηλητηρ|"
    r"umbring|töten|ermord|vergift|erstech|erschieß|erwürg|bringe|töte|vermoord|doden|doodmaken|ombrengen|vergiftig|"
    r"neersteken|neerschieten|wurgen|dood|杀|殺|毒|弄死|害死|죽이|죽일|독살|öldür|zehirle|قتل|أقتل|اقتل|سمم|मार|ज़हर|जहर|हत्या"
)
KILLING_A_PERSON = Gated(
    (_KILL_WORDS,),
    [
        "|".join(rf"\b{_ASK[lang]}{verb}\s+{_VICTIM[lang]}\b" for lang, verb in _KILL.items()),
        *_GERMANIC_KILL,
        *_KILL_WRITTEN_OUT,
    ],
    unless=_KEEPING_AWAY_FOUND,
)

# -- breaking into another person's account --------------------------------------------------------
_HACK = {
    "es": r"(hackear|piratear|jaquear|espiar|entrar (a|en))",
    "fr": r"(pirater|hacker|espionner|accéder à)",
    "it": r"(hackerare|violare|spiare|entrare (nel|nella|in))",
    "pt": r"(hackear|invadir|raquear|espionar|entrar (no|na|em))",
    "pl": r"(zhakować|włamać się (do|na)|shakować)",
    "ru": r"(взломать|хакнуть|прочитать)",
    "uk": r"(зламати|хакнути|прочитати)",
    "id": r"(meretas|hack|membobol|menyadap)",
    "vi": r"(hack|xâm nhập|đột nhập)",
}
_ACCOUNT = (
    r"(cuenta|cuentas|conta|contas|compte|comptes|account|konto|whatsapp|instagram|facebook|snapchat|tiktok|telegram|"
    r"icloud|gmail|correo|mensajes|celular|móvil|movil|teléfono|telefono|téléphone|portable|messagerie|mail|e-mail|"
    r"email|messages|cellulare|telefonino|messaggi|telemóvel|mensagens|telefon|wiadomości|skrzynkę|"
    r"аккаунт|страниц\w*|телефон|почт\w*|переписк\w*|ватсап|вотсап|инстаграм|вк|вконтакте|телеграм|"
    r"акаунт|сторінк\w*|листуванн\w*|akun|hp|ponsel|tài khoản|điện thoại|zalo)"
)
# whose: another person named by who they are to the writer, or "someone else"
_WHOSE = {
    "es": r"de\s+(mi|mis)\s+(novi[oa]|exnovi[oa]|ex|esposa|esposo|marido|mujer|pareja|jef[ea]|vecin[oa]|amig[oa]|herman[oa]|compañer[oa]|profesor|profesora|crush)|de alguien|de otra persona|de otras personas|ajen[oa]s?",
    "fr": r"(de|d')\s*(ma|mon|mes)\s+(copine|copain|femme|mari|ex|petite amie|petit ami|patron|patronne|voisin|voisine|amie?|frère|sœur|soeur|collègue|crush)|de quelqu'un|d'une autre personne|d'autrui",
    "it": r"(di|della|del)\s+(mia|mio)\s+(moglie|marito|ragazz[oa]|fidanzat[oa]|ex|capo|vicin[oa]|amic[oa]|fratello|sorella|collega)|di qualcuno|di un'altra persona|altrui",
    "pt": r"(da|do|de)\s+(minha|meu)\s+(namorad[ao]|esposa|marido|mulher|ex|chefe|vizinh[oa]|amig[oa]|irmã|irmão|colega|crush)|de alguém|de outra pessoa|de outras pessoas",
    "pl": r"(mojej|mojego)?\s*(żony|męża|dziewczyny|chłopaka|byłej|byłego|szefa|sąsiada|sąsiadki|kolegi|koleżanki)|kogoś|cudz\w+",
    "ru": r"((моей|моего|своей|своего)\s+)?(жены|мужа|девушки|парня|бывшей|бывшего|начальника|соседа|соседки|друга|подруги|коллеги|сестры|брата)|чуж\w+",
    "uk": r"((моєї|мого|своєї|свого)\s+)?(дружини|чоловіка|дівчини|хлопця|колишньої|колишнього|начальника|сусіда|сусідки|друга|подруги|колеги)|чуж\w+",
    "id": r"(istri|suami|pacar|mantan|bos|atasan|tetangga|teman|orang lain|seseorang)(\s+(saya|aku|ku)|ku)?",
    "vi": r"(của\s+)?(vợ|chồng|bạn gái|bạn trai|người yêu|người yêu cũ|sếp|hàng xóm|người khác|ai đó)",
}
_GERMANIC_HACK = [
    # "Wie hacke ich das Instagram-Konto meiner Ex?", "Wie kann ich das Handy meiner Frau hacken?"
    r"\b(wie|ich will|ich möchte)\b[^.!?,\n]{0,40}?\b[\w-]*(konto|account|handy|e-mail|email|whatsapp|instagram|facebook|snapchat|"
    r"icloud|nachrichten|chats?)\s+(meiner|meines|von meiner|von meinem)\s+(ex|exfreundin|freundin|frau|ehefrau|mannes|"
    r"ehemannes|freundes|chefs|chefin|nachbarn|nachbarin|kollegen|kollegin|schwester|bruders)\b[^.!?,\n]{0,30}?\b(hacken|hacke|knacken|knacke)\b",
    r"\bwie\s+(hacke|knacke)\s+ich\b[^.!?,\n]{0,40}?\b[\w-]*(konto|account|handy|e-mail|email|whatsapp|instagram|facebook|snapchat|"
    r"icloud|nachrichten|chats?)\s+(meiner|meines|von meiner|von meinem|von jemandem|einer anderen person)",
    r"\b(hoe)\b[^.!?,\n]{0,30}?\b(hack|hacken|kraak|kraken)\b[^.!?,\n]{0,30}\b[\w-]*(account|telefoon|mobiel|whatsapp|instagram|"
    r"facebook|snapchat|mail|e-mail)\s+van\s+(mijn\s+(vriendin|vriend|vrouw|man|ex|baas|buurman|buurvrouw|collega)|iemand anders|iemand)",
]
_HACK_WRITTEN_OUT = [
    r"(如何|怎么|怎样|怎麼|怎樣|教我|帮我|幫我|我想)[^。！？\n]{0,6}?(入侵|黑进|黑進|盗|盜|破解|偷看|登录|登錄)"
    r"(我)?(老婆|女朋友|男朋友|前任|前女友|前男友|老公|妻子|丈夫|同事|老板|老闆|邻居|鄰居|别人|別人|他人|某人)的?"
    r"(微信|QQ|手机|手機|邮箱|郵箱|账号|帳號|账户|帳戶|Instagram|脸书|臉書|WhatsApp|聊天记录|聊天記錄)",
]
_HACK_WORDS = (
    r"hack|hak|pirat|jaque|espi|entrar|accéder|violare|invadir|raque|włama|взлом|хакн|прочита|злам|meretas|"
    r"membobol|menyadap|xâm nhập|đột nhập|knack|kraak|入侵|黑进|黑進|盗|盜|破解|偷看|登录|登錄"
)
ACCOUNT_BREAK_IN = Gated(
    (_HACK_WORDS,),
    [
        "|".join(
            rf"\b{_ASK[lang]}{verb}\s+([^\s.!?]+\s+){{0,3}}?{_ACCOUNT}\b[^.!?\n]{{0,25}}?\b({_WHOSE[lang]})\b"
            for lang, verb in _HACK.items()
        ),
        *_GERMANIC_HACK,
        *_HACK_WRITTEN_OUT,
    ],
    unless=_KEEPING_AWAY_FOUND,
)

# -- buying a hard drug ---------------------------------------------------------------------------
_WHERE = {
    "es": r"dónde|donde",
    "fr": r"où",
    "it": r"dove",
    "pt": r"onde",
    "pl": r"gdzie",
    "ru": r"где",
    "uk": r"де",
    "id": r"di mana|dimana",
    "vi": r"ở đâu|chỗ nào",
}
_BUY = {
    "es": r"(comprar|compro|pedir)",
    "fr": r"(acheter|achète|commander|me procurer|se procurer)",
    "it": r"(comprare|compro|procurarmi|ordinare)",
    "pt": r"(comprar|compro|arranjar|encomendar)",
    "pl": r"(kupić|kupic|zamówić|załatwić)",
    "ru": r"(купить|куплю|заказать|достать)",
    "uk": r"(купити|замовити|дістати)",
    "id": r"(membeli|beli|memesan)",
    "vi": r"(mua|đặt mua)",
}
_GERMANIC_BUY = [
    rf"\b(wie|wo)\s+(kaufe|bestelle|bekomme|besorge)\s+ich\s+([^\s.!?]+\s+){{0,2}}?{_DRUGS}\b",
    rf"\b(wie|wo)\s+(kann|könnte)\s+(ich|man)\s+([^\s.!?]+\s+){{0,2}}?{_DRUGS}\s+([^\s.!?]+\s+){{0,3}}?(kaufen|bestellen|bekommen|besorgen)\b",
    rf"\b(hoe|waar)\s+(koop|bestel)\s+(ik|je|men)\s+([^\s.!?]+\s+){{0,2}}?{_DRUGS}\b",
    # The verb is required: "Hoe kan ik cocaïne herkennen?" asks how to recognise it.
    rf"\b(hoe|waar)\s+kan\s+(ik|je|men)\s+([^\s.!?]+\s+){{0,2}}?{_DRUGS}\s+([^\s.!?]+\s+){{0,3}}?(kopen|bestellen|krijgen)\b",
]
_BUY_WRITTEN_OUT = [
    r"(哪里|哪裡|在哪|怎么|怎麼|如何|去哪)[^。！？\n]{0,4}?(买|買|购买|購買|弄到|搞到)(到)?" + _DRUGS_CJK,
    _DRUGS_CJK
    + r"[^。\n]{0,3}?(を買う方法|の買い方|を買いたい|はどこで買え|をどこで買え|を手に入れる方法|구매 방법|사는 방법|살 수 있|어디서 사)",
    rf"\b{_DRUGS}\s+([^\s.!?]+\s+){{0,2}}(nereden alabilirim|nereden bulabilirim|nasıl satın alabilirim|satın almak istiyorum)",
]
# A test kit for the drug is bought to keep it away ("¿Dónde comprar kit de prueba de cocaína?")
_A_TEST = r"\b(test\w*|тест\w*|prueba\w*|dépistage|kit|teste\w*|strisc\w*|testy)\b"
DRUG_BUYING = Gated(
    (_DRUG_WORDS,),
    [
        "|".join(
            rf"\b(({_ASK[lang]})|(({_WHERE[lang]})\s+([^\s.!?]+\s+){{0,2}}?)){verb}\s+([^\s.!?]+\s+){{0,3}}?{_DRUGS}\b"
            for lang, verb in _BUY.items()
        ),
        *_GERMANIC_BUY,
        *_BUY_WRITTEN_OUT,
    ],
    unless=f"{_KEEPING_AWAY_FOUND}|{_A_TEST}",
)

# -- stealing, laundering, forging, evading taxes ------------------------------------------------------
# What is stolen or forged is named (a shop, money, a car, a passport): "robar el corazón de alguien",
# "voler en parapente" (to fly) and "伪造 HTTP 请求" (a forged request in web security) are not crimes.
_CRIME = {
    "es": r"((robar|hurtar)\s+(en\s+(una\s+|la\s+)?(tienda|supermercado|farmacia)|dinero|un coche|un carro|coches|una moto|"
    r"un celular|un móvil|una cartera|identidades|la identidad|tarjetas|paquetes|gasolina|electricidad)|(lavar|blanquear)\s+"
    r"(el\s+|mi\s+)?(dinero|plata|fondos)|falsificar\s+(\S+\s+)?(billetes|dinero|moneda\w*|pasaportes?|documentos?|recetas?|dni|"
    r"identificación|firmas?|cheques?)|(evadir|defraudar)\s+(\S+\s+)?(impuestos|hacienda|al fisco|el fisco))",
    "fr": r"(voler\s+(dans\s+(un|le|les|une)\s+(magasin|supermarché|boutique|pharmacie)|de l'argent|une voiture|des voitures|un "
    r"portefeuille|une carte|l'identité|des colis|de l'essence|l'électricité)|blanchir\s+(de l'argent|l'argent|des fonds|de "
    r"l'argent sale)|(falsifier|contrefaire|imprimer|fabriquer)\s+(des\s+|de\s+|un\s+|une\s+|la\s+)?(faux billets|billets|monnaie|"
    r"passeport|papiers|ordonnance|carte d'identité|signature|documents|chèque)|frauder\s+(le fisc|les impôts|l'impôt))",
    "it": r"(rubare\s+(in un negozio|al supermercato|in farmacia|soldi|denaro|un'auto|una macchina|un portafoglio|l'identità|"
    r"carte di credito|pacchi|benzina|corrente)|riciclare\s+(il\s+|i\s+)?(denaro|soldi)|(falsificare|contraffare)\s+(\S+\s+)?"
    r"(banconote|soldi|denaro|passaporto|documenti|ricetta|firma|assegno|carta d'identità)|evadere\s+(le tasse|il fisco))",
    "pt": r"((roubar|furtar)\s+(uma loja|em (uma\s+)?loja|no supermercado|na farmácia|dinheiro|um carro|carros|uma moto|um "
    r"celular|uma carteira|identidade|cartões|cartão de crédito|encomendas|gasolina|energia)|lavar\s+(o\s+)?dinheiro|"
    r"falsificar\s+(\S+\s+)?(dinheiro|notas|cédulas|passaporte|documentos?|receitas?|rg|identidade|assinaturas?|cheques?)|"
    r"sonegar\s+(o\s+)?impostos?)",
    "pl": r"(ukraść\s+(w sklepie|ze sklepu|z marketu|pieniądze|samochód|auto|portfel|telefon|tożsamość|kartę)|(wyprać|prać)\s+"
    r"pieniądze|(podrobić|sfałszować)\s+(\S+\s+)?(pieniądze|banknoty|paszport|dokumenty|receptę|podpis|dowód\w*)|"
    r"oszukać\s+(urząd skarbowy|fiskusa))",
    "ru": r"((украсть|своровать|стащить|спереть)\s+(в магазине|из магазина|в супермаркете|деньги|машину|автомобиль|кошел[её]к|"
    r"телефон|карту|личность|посылк\w*|бензин|электричество)|(отмыть|отмывать)\s+деньги|подделать\s+(\S+\s+)?(деньги|купюры|"
    r"паспорт|документы|рецепт|подпись|справку|диплом|права)|(уклониться|уйти)\s+от\s+(уплаты\s+)?налогов)",
    "uk": r"((вкрасти|поцупити)\s+(в магазині|з магазину|гроші|машину|гаманець|телефон|картку)|відмити\s+гроші|підробити\s+"
    r"(\S+\s+)?(гроші|паспорт|документи|підпис|довідку|диплом)|ухилитися\s+від\s+(сплати\s+)?податків)",
    "id": r"((mencuri|nyolong|maling)\s+(di\s+(toko|supermarket|minimarket|apotek)|uang|mobil|motor|dompet|hp|ponsel|identitas|"
    r"kartu kredit|paket|listrik)|(mencuci|cuci)\s+uang|memalsukan\s+(uang|paspor|dokumen|ktp|tanda tangan|resep|ijazah)|"
    r"(menggelapkan|mengemplang)\s+pajak)",
    "vi": r"((ăn cắp|ăn trộm|lấy trộm|trộm)\s+(ở\s+|trong\s+)?(cửa hàng|siêu thị|tiền|xe|xe máy|ví|điện thoại|danh tính|thẻ tín dụng)|"
    r"rửa tiền|làm giả\s+(tiền|hộ chiếu|giấy tờ|chữ ký|căn cước|bằng)|trốn thuế)",
}
_CRIME_WRITTEN_OUT = [
    # German: the verb second ("Wie klaue ich im Supermarkt") or last ("Wie kann ich Steuern hinterziehen?")
    r"\bwie\s+(klaue|stehle)\s+ich\s+([^\s.!?,]+\s+){0,2}?((im|aus dem|in einem)\s+(laden|supermarkt|geschäft|kaufhaus|shop)|"
    r"geld|ein auto|autos|handys?|portemonnaies?|geldbeutel|identitäten|kreditkarten|pakete|strom|benzin)\b",
    r"\b(wie|ich will|ich möchte)\b[^.!?,\n]{0,40}?\b((im|aus dem|in einem)\s+(laden|supermarkt|geschäft|kaufhaus|shop)\s+"
    r"([^\s.!?,]+\s+)?(klauen|stehlen)|geld\s+waschen|(falschgeld|geld|geldscheine|banknoten|ausweis\w*|pass|reisepass|rezept\w*|"
    r"dokumente|urkunden?|unterschrift\w*)\s+([^\s.!?,]+\s+)?fälschen|steuern\s+([^\s.!?,]+\s+)?hinterziehen|falschgeld\s+"
    r"([^\s.!?,]+\s+)?(herstellen|drucken|machen))\b",
    r"\bwie\s+(wasche|fälsche|hinterziehe)\s+ich\s+([^\s.!?,]+\s+){0,2}?(geld|geldscheine|banknoten|ausweis\w*|pass|reisepass|"
    r"rezept\w*|dokumente|urkunden?|unterschrift\w*|steuern)\b",
    r"\bhoe\b[^.!?\n]{0,30}\b(geld\s+witwassen|(geld|bankbiljetten|paspoort|documenten|handtekening|recept)\s+(\S+\s+)?vervalsen|"
    r"belasting\s+(\S+\s+)?ontduiken|(in|uit)\s+(een|de)\s+winkel\s+(\S+\s+)?stelen)\b",
    r"(如何|怎么|怎样|怎麼|怎樣|教我|我想|怎么才能)[^。！？\n]{0,8}?(偷东西|偷東西|偷钱|偷錢|偷车|偷車|洗钱|洗錢|逃税|逃稅|偷税|偷稅|"
    r"做假钞|做假鈔|印假钞|印假鈔|(伪造|偽造)(钞票|鈔票|人民币|人民幣|假币|假幣|护照|護照|身份证|身份證|证件|證件|签名|簽名|发票|發票))",
    r"(万引き|脱税|マネーロンダリング|資金洗浄|偽札|(紙幣|パスポート|身分証|お金|財布|車|クレジットカード)を(偽造|盗)む?)"
    r"[^。\n]{0,4}?(する方法|のやり方|の仕方|の作り方|方法|したい|のコツ|を教えて)",
    r"(도둑질|물건을 훔치|돈을 훔치|차를 훔치|돈세탁|자금 세탁|탈세|위조지폐|지폐를 위조|여권을 위조|신분증을 위조)[^.?!\n]{0,6}?"
    r"(하는 방법|하는 법|방법|는 법|하고 싶)",
    r"\b(mağazadan|marketten|dükkandan|para|araba|cüzdan)\s+([^\s.!?]+\s+)?(nasıl çalabilirim|nasıl çalarım|çalmak istiyorum)"
    r"|\bkara para(yı)?\s+(nasıl\s+)?akla\w*|\bvergi(den)?\s+(nasıl\s+)?kaçır\w*|\bsahte (para|pasaport|kimlik|belge)\s+"
    r"(nasıl yapılır|yapmak|basmak|nasıl basılır)",
    r"(كيف|أريد)\s+(\S+\s+){0,2}?((أسرق|اسرق)\s+(من\s+)?(متجر|محل|سوبرماركت|المال|مال|سيارة|محفظة)|(أغسل|غسل|غسيل)\s+"
    r"(الأموال|الاموال|أموال)|(أزور|تزوير)\s+(النقود|العملة|جواز|وثائق|بطاقة)|(أتهرب|التهرب)\s+من\s+الضرائب)",
    r"(दुकान|मॉल|पैसे|कार|बटुआ)\s.{0,15}(कैसे चुराऊं|कैसे चुराऊँ|चुराने का तरीका|कैसे चुराएं)|(नकली नोट)\s.{0,10}(कैसे बनाएं|कैसे छापें)"
    r"|टैक्स चोरी कैसे",
]
_CRIME_WORDS = (
    r"robar|hurtar|lavar|blanque|falsific|evadir|defraud|voler|blanchir|falsifi|contrefa|faux billets|frauder|rubare|ricicl|"
    r"contraff|evadere|roubar|furtar|sonegar|ukraść|prać|podrobi|sfałsz|oszukać|украс|своров|стащ|спер|отмы|поддел|уклон|уйти от|"
    r"вкрас|поцуп|відми|підроб|ухил|mencuri|nyolong|maling|cuci|memalsu|menggelap|mengemplang|ăn cắp|trộm|rửa tiền|làm giả|"
    r"trốn thuế|klau|stehl|wasch|wasche|fälsch|hinterzieh|falschgeld|witwas|vervals|ontduik|stelen|偷|洗钱|洗錢|逃税|逃稅|假钞|假鈔|"
    r"伪造|偽造|万引き|脱税|マネーロンダリング|資金洗浄|偽札|盗|훔치|도둑질|돈세탁|자금 세탁|탈세|위조|çal|akla|kaçır|sahte|أسرق|اسرق|"
    r"غسل|غسيل|أغسل|تزوير|أزور|التهرب|أتهرب|चुरा|नकली नोट|टैक्स चोरी"
)
_DETECTING = (
    r"\b(detectar|reconocer|identificar|détecter|reconnaître|erkennen|rilevare|riconoscere|распознать|отличить|rozpoznać|"
    r"herkennen|mengenali|nhận biết|tespit)\b|识别|辨别|辨別|見分け|구별"
)
CRIMES = Gated(
    (_CRIME_WORDS,),
    [
        "|".join(rf"\b{_ASK[lang]}{crime}\b" for lang, crime in _CRIME.items()),
        *_CRIME_WRITTEN_OUT,
    ],
    # "¿Cómo evadir impuestos legalmente?" asks how to pay less within the law
    unless=rf"{_KEEPING_AWAY_FOUND}|{_DETECTING}|\b(legal\w*|légal\w*|законн\w*|легальн\w*|legaln\w*|legaal|yasal\w*)\b|合法",
)

# -- driving someone else to suicide ------------------------------------------------------------------
# English's "convince / encourage someone to kill himself": a verb of persuading or driving, then
# suicide within a sentence. The law, a victim, its signs or a word of preventing lift it ("Leyes
# contra incitar al suicidio", "Anzeichen, dass jemand in den Suizid getrieben wird").
_INCITE = [
    r"\b(überrede|überreden|bringe|bringen|dränge|drängen|treibe|treiben|ermutige|ermutigen|überzeuge|überzeugen)\b"
    r"[^.!?\n]{0,40}\b(sich (umzubringen|das leben zu nehmen|selbst zu töten)|zum (suizid|selbstmord)|in den (suizid|selbstmord))\b",
    r"\b(in den|zum) (suizid|selbstmord)\s+(zu\s+)?(treiben|drängen|bringen|treibe|dränge|bringe)\b",
    r"\b(convencer|convenzo|convenza|empujar|empujo|inducir|induzco|incitar|incito|animar|animo|llevar)\b[^.!?\n]{0,40}"
    r"\b((a|de) que se (suicide|mate|quite la vida)|al suicidio|a suicidarse|a matarse|a quitarse la vida)\b",
    r"\b(pousser|pousse|convaincre|convaincs|inciter|incite|encourager|encourage|amener)\b[^.!?\n]{0,40}"
    r"\b(au suicide|à se suicider|a se suicider|à se tuer|à mettre fin à ses jours)\b",
    r"\b(convincere|convinco|spingere|spingo|indurre|induco|istigare|istigo|incoraggiare)\b[^.!?\n]{0,40}"
    r"\b(al suicidio|a suicidarsi|a uccidersi|a togliersi la vita)\b",
    r"\b(convencer|convenço|levar|levo|induzir|induzo|incentivar|incitar|empurrar)\b[^.!?\n]{0,40}"
    r"\b(ao suicídio|a se suicidar|a se matar|a tirar a própria vida|a cometer suicídio)\b",
    r"(довести|доводить|склонить|убедить|подтолкнуть|заставить)\s[^.!?\n]{0,40}?(до самоубийства|к самоубийству|"
    r"до суицида|к суициду|(?<!не )покончить с собой|(?<!не )убить себя)",
    r"(довести|схилити|переконати|підштовхнути|змусити)\s[^.!?\n]{0,40}?(до самогубства|до суїциду|(?<!не )накласти на себе "
    r"руки|(?<!не )покінчити з собою)",
    r"\b(namówić|namawiać|nakłonić|przekonać|doprowadzić|zmusić|popchnąć)\b[^.!?\n]{0,40}(do samobójstwa|"
    r"żeby się zabił\w*|by się zabił\w*|do odebrania sobie życia)",
    r"\b(overtuig|overtuigen|overhalen|aanzetten|aanmoedigen)\b[^.!?\n]{0,40}\b(?<!geen )(zelfmoord|suïcide)\b|"
    r"\b(tot|naar) (zelfmoord|suïcide)\s+(te\s+)?(drijven|aanzetten|brengen)\b",
    # not "劝一个人不要自杀" (talk someone out of it)
    r"(如何|怎么|怎样|怎麼|怎樣|教我)[^。！？\n]{0,4}(让|讓|逼|诱导|誘導|劝|勸|怂恿|慫恿)(?:(?!不|别|別|勿)[^。！？\n]){0,6}(自杀|自殺|轻生|輕生)",
    r"(人|誰か|彼|彼女|あいつ)を[^。\n]{0,4}(自殺に追い込|自殺させ|自殺に追いや)",
    r"(사람|누군가|그|그녀)(을|를)\s?(자살하게 만드|자살로 몰아|자살하도록)",
    r"\b(birini|birisini|onu)\s[^.!?\n]{0,20}(intihara (nasıl )?(sürükle|teşvik|ikna)\w*|intihar etmeye (ikna|teşvik)\w*)",
    r"\b(membujuk|mendorong|meyakinkan|menghasut)\s[^.!?\n]{0,30}\b(?<!tidak )(?<!jangan )bunuh diri\b",
    r"\b(xúi|thuyết phục|ép|dụ)\s[^.!?\n]{0,30}(?<!không )(?<!đừng )(tự tử|tự sát)",
    r"(أقنع|إقناع|أدفع|تحريض|أحرض)\s[^.!?\n]{0,30}(?<!عدم )(?<!بعدم )(?<!لا )(الانتحار|ينتحر)",
    r"(किसी को|उसे)\s[^.!?\n]{0,20}(आत्महत्या के लिए (उकसा|मजबूर|प्रेरित)|आत्महत्या करने के लिए (उकसा|मजबूर))",
]
INCITING_SUICIDE = Gated(
    (
        r"suizid|selbstmord|umzubringen|leben zu nehmen|selbst zu töten|suicid|matarse|quite la vida|quitarse la vida|"
        r"se tuer|fin à ses jours|uccidersi|togliersi la vita|se matar|própria vida|самоубийств|суицид|покончить с собой|"
        r"убить себя|самогубств|суїцид|на себе руки|покінчити|samobójstw|się zabi|odebrania sobie|zelfmoord|suïcide|"
        r"自杀|自殺|轻生|輕生|자살|intihar|bunuh diri|tự tử|tự sát|الانتحار|ينتحر|आत्महत्या",
    ),
    _INCITE,
    unless=rf"{_KEEPING_AWAY_FOUND}|\b(leye?s?|delito|penal|código|gesetz\w*|strafbar\w*|strafe|loi|délit|legge|reato|"
    r"lei|crime|закон\w*|статья|ustaw\w*|przestęp\w*|wet|misdaad|víctimas?|opfer|victimes?|vittim[ae]|vítimas?|"
    r"жертв\w*|ofiar\w*|slachtoffer\w*|señales|signos|anzeichen|signes|segni|sinais|признак\w*|ознак\w*|oznak\w*|"
    r"signalen|mağdur|korban|nạn nhân|dấu hiệu|tanda)\b|法律|刑法|受害|被害|피해|迹象|跡象|兆候|징후",
)
