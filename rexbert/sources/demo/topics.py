"""Vocabulary of the non-commerce side of the demo web: what news, how-tos and essays talk about.

Each domain has its own nouns, roles, organisations, past-tense verbs, adjectives, events,
how-to tasks with imperative steps, and concepts. The document generators combine these with a
shared sentence grammar, so non-commerce text differs from product text in its content words
while sharing English function words, as real web text does.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    """Content words of one domain for non-commerce writing."""

    nouns: tuple[str, ...]
    roles: tuple[str, ...]
    orgs: tuple[str, ...]
    verbs: tuple[str, ...]  # past tense, transitive
    adjectives: tuple[str, ...]
    events: tuple[str, ...]
    tasks: tuple[str, ...]  # how-to titles: "How to <task>"
    steps: tuple[str, ...]  # imperative steps
    concepts: tuple[str, ...]


def _t(nouns: str, roles: str, orgs: str, verbs: str, adjectives: str, events: str, tasks: str,
       steps: str, concepts: str) -> Topic:
    def split(text: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in text.split("|") if part.strip())

    return Topic(split(nouns), split(roles), split(orgs), split(verbs), split(adjectives),
                 split(events), split(tasks), split(steps), split(concepts))


TOPICS: dict[str, Topic] = {
    "hobby": _t("collection|club meeting|weekend project|craft fair|workshop|stamp album|garden plot|birdhouse|pattern|community hall|exhibition|sketchbook",
                "collector|club secretary|volunteer|retired teacher|hobbyist|organiser",
                "the Riverside Makers Club|the county craft guild|the local library|the Northfield Society",
                "organised|restored|displayed|catalogued|shared|rebuilt|donated|finished|judged|documented",
                "handmade|vintage|patient|colourful|intricate|weekly|quiet|rare|cheerful|local",
                "annual craft fair|spring swap meet|open studio day|charity raffle|model railway show",
                "start a stamp collection|restore an old bicycle|press flowers|join a hobby club|plan a craft fair stall",
                "sort the pieces by colour|label every box clearly|set aside an hour each week|ask an experienced member for advice|photograph your progress|keep a simple notebook",
                "patience|routine|community|craftsmanship|practice|curiosity"),
    "news": _t("council|budget|report|inquiry|road closure|vote|statement|press conference|neighbourhood|flood warning|hearing|petition",
               "spokesperson|mayor|reporter|councillor|resident|official|analyst",
               "the city council|the regional authority|the transport agency|the weather service|the school board",
               "announced|approved|delayed|confirmed|rejected|published|investigated|postponed|criticised|reviewed",
               "local|unexpected|controversial|temporary|official|preliminary|heavy|public|annual|urgent",
               "council meeting|storm|election count|bridge repair|public consultation|protest march",
                "follow a council meeting|read a budget report|report a pothole|prepare for a flood warning",
               "check the official website first|note the date of the next meeting|write down your questions|contact your councillor|keep copies of every letter|share verified updates only",
               "accountability|transparency|public interest|local democracy|verification"),
    "health": _t("study|clinic|patient|symptom|treatment|sleep pattern|diet|immune response|blood sample|trial|recovery|habit",
                 "researcher|nurse|physician|dietitian|epidemiologist|physiotherapist",
                 "the university hospital|the public health agency|the national institute|a regional clinic",
                 "measured|reduced|observed|reported|linked|improved|tracked|tested|recommended|compared",
                 "chronic|mild|clinical|healthy|daily|randomised|early|significant|balanced|restful",
                 "clinical trial|flu season|vaccination campaign|health survey|awareness week",
                 "build a sleep routine|start walking every day|cut down on sugar|manage stress at work",
                 "go to bed at the same time|drink water before each meal|take a short walk after lunch|talk to your doctor before changing medication|write down how you feel each morning|limit screens in the evening",
                 "wellbeing|prevention|metabolism|circulation|resilience|inflammation"),
    "entertainment": _t("season finale|audience|premiere|sitcom|streaming chart|festival lineup|talent show|comedian|episode|box office|script|soundtrack",
                        "critic|showrunner|host|producer|comedian|viewer",
                        "the festival committee|the broadcaster|the studio|the awards academy",
                        "premiered|cancelled|renewed|praised|hosted|rewrote|leaked|celebrated|teased|ranked",
                        "hilarious|long-awaited|surprising|live|weekly|beloved|chaotic|award-winning|viral|final",
                        "awards night|comedy festival|season premiere|talent show final|fan convention",
                        "host a quiz night|plan a movie marathon|write a stand-up set|get tickets for a festival",
                        "pick a theme everyone enjoys|prepare questions in rounds|test your jokes on friends|arrive early for the best seats|keep the evening short|take breaks between episodes",
                        "storytelling|fandom|timing|satire|suspense|spectacle"),
    "travel": _t("itinerary|old town|coastline|ferry|hostel|mountain pass|market|harbour|cathedral|train route|valley|island",
                 "traveller|guide|local fisherman|hotel owner|backpacker|ranger",
                 "the tourism board|the national park service|the rail operator|a family-run guesthouse",
                 "explored|crossed|visited|hiked|photographed|described|recommended|mapped|reached|discovered",
                 "quiet|scenic|crowded|remote|historic|sunny|winding|coastal|hidden|affordable",
                 "harvest festival|off-season|monsoon|night market|lantern parade",
                 "plan a rail trip|travel on a budget|avoid jet lag|explore a city on foot",
                 "book the first train of the day|carry a paper map as backup|learn a few local phrases|eat where the locals eat|leave a free afternoon|check the ferry timetable twice",
                 "wanderlust|slow travel|hospitality|heritage|seasonality"),
    "food": _t("recipe|dough|broth|harvest|farmers market|sauce|pastry|kitchen|spice mix|stew|bakery|orchard",
               "chef|baker|farmer|food writer|home cook|grandmother",
               "the cooking school|a family bakery|the village cooperative|the food festival",
               "simmered|kneaded|roasted|seasoned|tasted|folded|whisked|harvested|served|marinated",
               "crispy|fragrant|tender|homemade|seasonal|rich|tangy|golden|rustic|smoky",
               "harvest supper|baking contest|street food festival|cider pressing",
               "bake sourdough bread|make a simple tomato sauce|roast vegetables evenly|fold dumplings",
               "preheat the oven to a high heat|chop the onions finely|let the dough rest overnight|taste and adjust the salt|stir gently over low heat|serve while still warm",
               "umami|fermentation|texture|seasonality|balance|tradition"),
    "automotive": _t("engine|road trip|race|commute|traffic|garage|motorway|rally|electric range|safety test|fuel economy|pit stop",
                     "mechanic|driver|engineer|race marshal|instructor|motoring journalist",
                     "the motoring club|the road safety board|the racing team|the transport ministry",
                     "tested|raced|repaired|recalled|overtook|tuned|inspected|drove|restored|clocked",
                     "electric|fuel-efficient|classic|turbocharged|muddy|wet|busy|vintage|reliable|rear-wheel",
                     "grand prix|classic car rally|safety recall|winter driving course|track day",
                     "check your oil level|change a flat tyre|drive safely in snow|prepare for a long road trip",
                     "park on level ground|let the engine cool down|check the pressure when tyres are cold|keep a blanket in the boot|plan fuel stops ahead|signal early before changing lanes",
                     "traction|aerodynamics|torque|maintenance|road safety"),
    "sports": _t("match|season|striker|goalkeeper|league table|marathon|coach|training camp|injury|relay|final whistle|penalty",
                 "coach|captain|striker|referee|sprinter|team doctor",
                 "the league|the national federation|the city marathon committee|the youth academy",
                 "scored|defended|won|lost|equalised|trained|qualified|defeated|signed|sprinted",
                 "dramatic|unbeaten|young|defensive|decisive|late|rainy|narrow|record-breaking|tense",
                 "cup final|derby|marathon|relay championship|training camp",
                 "train for your first 10k|improve your serve|warm up before a match|recover after a long run",
                 "start with an easy jog|increase distance slowly each week|stretch the calves and hamstrings|rest one full day a week|drink water during long sessions|practise the movement slowly first",
                 "endurance|teamwork|tactics|discipline|momentum|fitness"),
    "music_and_dance": _t("rehearsal|concert|choreography|rhythm|orchestra|band|dance floor|melody|recital|tour|chorus|studio session",
                          "choreographer|singer|drummer|dance teacher|conductor|composer",
                          "the conservatory|the city orchestra|a salsa school|the jazz festival",
                          "performed|rehearsed|composed|choreographed|recorded|conducted|improvised|toured|sang|danced",
                          "rhythmic|graceful|acoustic|energetic|soulful|live|classical|upbeat|haunting|improvised",
                          "jazz festival|spring recital|dance competition|open mic night|summer tour",
                          "learn basic salsa steps|practise scales every day|write your first song|prepare for a recital",
                          "count the beat out loud|practise slowly with a metronome|record yourself and listen back|warm up your voice for ten minutes|learn one phrase at a time|rest your hands between sessions",
                          "harmony|tempo|expression|improvisation|musicality|posture"),
    "fashion": _t("runway|collection|designer|trend|catwalk|fashion week|atelier|silhouette|season|show|model|archive",
                  "designer|stylist|editor|model|tailor|critic",
                  "the fashion council|an independent atelier|the design school|the textile museum",
                  "unveiled|showcased|reinvented|tailored|styled|debuted|sketched|draped|revived|curated",
                  "minimalist|bold|sustainable|oversized|tailored|vintage|avant-garde|seasonal|elegant|muted",
                  "fashion week|graduate show|couture season|museum retrospective",
                  "build a capsule wardrobe|care for wool garments|mend a small tear",
                  "choose a neutral base palette|wash delicate items by hand|fold knitwear instead of hanging it|sew with small even stitches",
                  "silhouette|craft|sustainability|heritage|tailoring"),
    "beauty": _t("routine|skincare trend|salon|makeup look|backstage team|ingredient|campaign|tutorial|palette|hairstyle|photo shoot|spa",
                 "makeup artist|dermatologist|hairstylist|beauty editor|esthetician",
                 "the dermatology society|a city salon|the cosmetics museum|a beauty school",
                 "recommended|applied|created|tested|blended|styled|explained|highlighted|studied|refined",
                 "glowing|natural|dramatic|gentle|layered|radiant|effortless|bold|fresh|soft",
                 "backstage show|beauty awards|salon open day|skincare workshop",
                 "build a simple skincare routine|do a natural makeup look|protect hair from heat",
                 "cleanse gently in the evening|apply products from thinnest to thickest|blend edges with a clean brush|patch test anything new",
                 "skin barrier|hydration|texture|self-care|technique"),
    "celebrity": _t("interview|red carpet|rumour|engagement|charity gala|fan club|biography|premiere party|social media post|comeback|award speech|tour",
                    "actor|pop star|publicist|paparazzo|talk show host|fan",
                    "the talent agency|a charity foundation|the awards academy|a tabloid",
                    "revealed|attended|denied|announced|thanked|surprised|joined|posted|celebrated|confirmed",
                    "glamorous|private|emotional|surprise|star-studded|candid|long-rumoured|public|heartfelt|viral",
                    "red carpet gala|charity concert|award ceremony|surprise wedding|farewell tour",
                    "write a fan letter|meet a celebrity at a signing",
                    "keep your message short and kind|arrive early and be patient|respect the privacy of the guests",
                    "fame|privacy|public image|philanthropy|celebrity culture"),
    "movie": _t("director|screenplay|sequel|cinematography|box office|film festival|scene|cast|trailer|studio|screening|plot",
                "director|actor|film critic|screenwriter|cinematographer|editor",
                "the film institute|an independent studio|the festival jury|a national archive",
                "directed|filmed|premiered|adapted|edited|reviewed|restored|screened|cast|scored",
                "cinematic|slow-burning|gripping|black-and-white|independent|epic|quiet|sweeping|tense|restored",
                "film festival|retrospective|midnight screening|awards season",
                "write a short film script|watch films more critically|plan a film club",
                "write the ending first|watch every scene twice|notice where the camera moves|keep discussions under an hour",
                "montage|narrative|framing|genre|auteur theory"),
    "photo": _t("exhibition|portrait|landscape|darkroom|street scene|light|composition|archive|photo essay|gallery|series|negative",
                "photographer|curator|photo editor|documentary maker|gallery owner",
                "the photography museum|a street photography collective|the national archive|the city gallery",
                "photographed|exhibited|captured|framed|printed|documented|archived|developed|curated|cropped",
                "candid|luminous|grainy|intimate|documentary|golden|moody|monochrome|striking|quiet",
                "photo festival|gallery opening|portfolio review|photo walk",
                "compose a better landscape photo|shoot in low light|start a photo project",
                "use the rule of thirds|wait for the golden hour|steady yourself against a wall|shoot the same street every day",
                "composition|exposure|perspective|storytelling|light"),
    "painting": _t("canvas|brushstroke|gallery|portrait|still life|exhibition|fresco|studio|sketch|pigment|landscape|restoration",
                   "painter|art historian|curator|restorer|art teacher",
                   "the national gallery|the art academy|a restoration workshop|the city museum",
                   "painted|restored|exhibited|sketched|layered|commissioned|studied|glazed|framed|attributed",
                   "vivid|impressionist|abstract|luminous|textured|unfinished|baroque|delicate|expressive|muted",
                   "retrospective|open studio|art fair|restoration project",
                   "paint a simple landscape|mix skin tones|start plein air painting",
                   "block in large shapes first|mix a limited palette|work from dark to light|step back often to judge the whole",
                   "colour theory|perspective|composition|brushwork|chiaroscuro"),
    "physics": _t("particle|detector|experiment|quantum state|magnetic field|laser|wavelength|orbit|galaxy|accelerator|crystal|measurement",
                  "physicist|postdoctoral researcher|astronomer|lab technician|theorist",
                  "the national laboratory|the physics department|an observatory|the particle research centre",
                  "measured|detected|simulated|predicted|observed|calibrated|confirmed|derived|cooled|accelerated",
                  "quantum|relativistic|thermal|faint|superconducting|unexpected|precise|theoretical|cosmic|stable",
                  "solar eclipse|conference on condensed matter|detector upgrade|meteor shower",
                  "understand Newton's laws|build a simple circuit|observe the night sky",
                  "write down the known quantities|draw a free-body diagram|check the units at every step|repeat the measurement several times",
                  "entropy|momentum|energy conservation|wave-particle duality|gravitation|symmetry"),
    "politics": _t("election|parliament|coalition|bill|campaign|debate|policy|referendum|minister|opposition|manifesto|poll",
                   "minister|senator|campaign manager|political scientist|voter|diplomat",
                   "the parliament|the electoral commission|the opposition party|the foreign ministry",
                   "proposed|vetoed|negotiated|passed|campaigned|debated|resigned|endorsed|amended|ratified",
                   "democratic|bipartisan|contested|narrow|progressive|conservative|diplomatic|fiscal|electoral|constitutional",
                   "general election|budget debate|summit|referendum|leadership contest",
                   "register to vote|contact your representative|read a party manifesto",
                   "check the registration deadline|bring a valid form of identification|compare policies on the issues you care about|write a short clear letter",
                   "sovereignty|separation of powers|representation|legitimacy|civic duty"),
    "law": _t("court|ruling|appeal|contract|statute|defendant|jury|precedent|tenant|lawsuit|hearing|verdict",
              "judge|attorney|defendant|legal scholar|clerk|plaintiff",
              "the supreme court|the court of appeals|the bar association|a legal aid clinic",
              "ruled|overturned|appealed|argued|dismissed|upheld|filed|interpreted|settled|testified",
              "constitutional|civil|criminal|binding|landmark|procedural|contractual|unanimous|lengthy|legal",
              "appeal hearing|landmark ruling|jury selection|legal aid week",
              "read a rental contract|file a small claims case|prepare for jury duty",
              "read every clause twice|keep copies of all correspondence|note every deadline in a calendar|ask a legal aid clinic for help",
              "due process|liability|jurisdiction|precedent|burden of proof|habeas corpus"),
    "history": _t("empire|treaty|dynasty|manuscript|battle|archive|revolution|monastery|trade route|chronicle|excavation|siege",
                  "historian|archaeologist|archivist|monk|merchant|chronicler",
                  "the national archive|the university history faculty|a regional museum|the excavation team",
                  "conquered|founded|signed|recorded|excavated|besieged|translated|abolished|rebuilt|dated",
                  "medieval|ancient|colonial|imperial|forgotten|early modern|fortified|bronze-age|royal|nomadic",
                  "coronation|peace treaty|great fire|harvest famine|reformation",
                  "read a primary source|trace your family history|visit an archaeological site",
                  "note who wrote the document and why|compare at least two accounts|record the archive reference|ask the staff about opening hours",
                  "historiography|causality|chronology|primary sources|continuity and change"),
    "mathematics": _t("theorem|proof|equation|prime number|matrix|function|graph|integral|sequence|conjecture|polynomial|vector space",
                      "mathematician|professor|graduate student|number theorist|statistician",
                      "the mathematics institute|the university department|a national olympiad team|the mathematical society",
                      "proved|conjectured|computed|generalised|solved|defined|approximated|derived|factored|bounded",
                      "prime|finite|continuous|elegant|linear|symmetric|infinite|elementary|convergent|algebraic",
                      "olympiad|lecture series|problem-solving seminar|conference on number theory",
                      "solve a quadratic equation|understand mathematical induction|read a proof carefully",
                      "write down what is given|try a small example first|check the base case|look for a pattern in the first terms",
                      "induction|continuity|convergence|symmetry|abstraction|divisibility"),
}


# General English shared by every domain's non-commerce prose, so that domains overlap in
# everyday words (as real web text does) while keeping their own content words.
GENERAL_NOUNS = tuple("""afternoon agreement anniversary argument audience autumn balance beginning
belief border bridge career century chance change child community conversation corner council
country courage crowd culture decade decision difference discovery distance doubt dream effort
evening evidence experience family feeling field friendship future generation habit harbour
history honour hope household idea island journey judgement kitchen knowledge landscape language
letter library lifetime memory message midnight minute mistake morning mountain neighbour
newspaper notebook opinion patience pattern period photograph pleasure pressure promise question
reason record region relationship reputation river routine season secret silence situation
society spring storm strategy street success summer surprise teacher tension theory tradition
trust truth uncertainty valley village voice weather window winter wisdom workshop""".split())
GENERAL_ADJECTIVES = tuple("""ambitious ancient anxious brief brilliant careful casual certain
cautious clever common curious delicate difficult distant eager early enormous familiar famous
fragile generous gentle gradual honest hopeful humble important independent informal invisible
modest narrow nervous obvious ordinary patient peaceful personal practical proud rapid rare
reluctant remarkable serious sharp simple sincere steady strange strict subtle sudden thoughtful
tired uncertain unusual vague vivid warm wealthy welcome wise""".split())
GENERAL_ADVERBS = tuple("""eventually frankly gradually honestly meanwhile naturally obviously
occasionally originally perhaps quietly rarely recently reluctantly seldom slowly suddenly
surprisingly traditionally typically ultimately understandably unexpectedly usually""".split())
GENERAL_VERBS = tuple("""accepted admired avoided borrowed challenged changed collected compared
considered defended delivered described discovered discussed doubted encouraged expected explained
followed forgot gathered guided ignored imagined improved inherited introduced invited joined
mentioned noticed offered organised overlooked praised prepared questioned recalled recognised
rejected remembered repeated replaced revealed shaped supported surprised trusted understood
welcomed witnessed""".split())
