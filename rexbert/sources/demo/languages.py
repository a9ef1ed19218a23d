"""Non-English documents for the language-identification filter to find.

Each language has everyday sentence patterns with a few slots (a noun, a place, a number), enough
real text that fastText's lid.176 model labels it with the right language. The code is the
ISO 639-1 code that lid.176 predicts (`__label__fr` → "fr").
"""

from __future__ import annotations

import random

from rexbert.sources.demo.documents import place

_BANK: dict[str, dict[str, tuple[str, ...]]] = {
    "fr": {
        "noun": ("le marché", "la bibliothèque", "le musée", "la gare", "le quartier", "la boulangerie",
                 "le jardin public", "la mairie", "le festival", "la plage"),
        "sentence": (
            "Cette année, {noun} de {place} a accueilli beaucoup plus de visiteurs que prévu.",
            "Les habitants sont très satisfaits des travaux qui ont été réalisés pendant l'été.",
            "Selon le maire, il faudra encore {n} mois avant la fin du chantier.",
            "Nous avons passé une journée magnifique avec nos enfants et nos amis.",
            "Il est conseillé de réserver à l'avance, surtout pendant les vacances scolaires.",
            "Le prix de l'entrée reste raisonnable et les horaires sont affichés sur le site officiel.",
            "Après la pluie, nous sommes allés boire un café près de {noun}.",
            "Je recommande vivement cette adresse à tous ceux qui passent par {place}.",
            "Les jeunes du quartier organisent aussi des ateliers gratuits chaque samedi matin.",
            "La qualité du service nous a beaucoup plu, même si l'attente était un peu longue.",
            "On peut y aller à pied depuis le centre-ville en une vingtaine de minutes.",
            "Pour en savoir plus, n'hésitez pas à contacter l'office de tourisme.",
        ),
    },
    "de": {
        "noun": ("der Bahnhof", "das Rathaus", "die Bibliothek", "der Marktplatz", "das Museum",
                 "die Bäckerei", "der Stadtpark", "das Schwimmbad", "die Kirche", "der Hafen"),
        "sentence": (
            "In diesem Jahr hat {noun} in {place} deutlich mehr Besucher als erwartet angezogen.",
            "Die Bewohner sind mit den Arbeiten, die im Sommer durchgeführt wurden, sehr zufrieden.",
            "Nach Angaben der Stadtverwaltung wird die Baustelle noch etwa {n} Monate dauern.",
            "Wir haben einen wunderschönen Tag mit unseren Kindern und Freunden verbracht.",
            "Es empfiehlt sich, rechtzeitig zu reservieren, besonders während der Schulferien.",
            "Der Eintrittspreis ist angemessen und die Öffnungszeiten stehen auf der offiziellen Webseite.",
            "Nach dem Regen sind wir noch in ein kleines Café neben {noun} gegangen.",
            "Ich kann diesen Ort jedem empfehlen, der einmal durch {place} kommt.",
            "Die Jugendlichen aus dem Viertel bieten außerdem jeden Samstag kostenlose Kurse an.",
            "Der Service hat uns sehr gut gefallen, auch wenn die Wartezeit etwas lang war.",
            "Vom Stadtzentrum aus erreicht man es zu Fuß in ungefähr zwanzig Minuten.",
            "Weitere Informationen erhalten Sie bei der örtlichen Touristeninformation.",
        ),
    },
    "es": {
        "noun": ("el mercado", "la biblioteca", "el museo", "la estación", "el barrio", "la panadería",
                 "el parque", "el ayuntamiento", "el festival", "la playa"),
        "sentence": (
            "Este año, {noun} de {place} recibió muchos más visitantes de lo que se esperaba.",
            "Los vecinos están muy contentos con las obras que se hicieron durante el verano.",
            "Según el alcalde, todavía faltan unos {n} meses para terminar los trabajos.",
            "Pasamos un día estupendo con nuestros hijos y con algunos amigos.",
            "Es recomendable reservar con antelación, sobre todo durante las vacaciones escolares.",
            "El precio de la entrada es razonable y los horarios están en la página oficial.",
            "Después de la lluvia fuimos a tomar un café cerca de {noun}.",
            "Recomiendo este lugar a todos los que pasen por {place}.",
            "Los jóvenes del barrio también organizan talleres gratuitos todos los sábados por la mañana.",
            "Nos gustó mucho la atención, aunque la espera fue un poco larga.",
            "Se puede llegar caminando desde el centro de la ciudad en unos veinte minutos.",
            "Para más información, no dude en ponerse en contacto con la oficina de turismo.",
        ),
    },
    "it": {
        "noun": ("il mercato", "la biblioteca", "il museo", "la stazione", "il quartiere", "la panetteria",
                 "il parco", "il municipio", "il festival", "la spiaggia"),
        "sentence": (
            "Quest'anno {noun} di {place} ha accolto molti più visitatori del previsto.",
            "Gli abitanti sono molto soddisfatti dei lavori che sono stati fatti durante l'estate.",
            "Secondo il sindaco, ci vorranno ancora circa {n} mesi per finire il cantiere.",
            "Abbiamo passato una giornata bellissima con i nostri figli e alcuni amici.",
            "È consigliabile prenotare in anticipo, soprattutto durante le vacanze scolastiche.",
            "Il prezzo del biglietto è ragionevole e gli orari sono indicati sul sito ufficiale.",
            "Dopo la pioggia siamo andati a prendere un caffè vicino a {noun}.",
            "Consiglio vivamente questo posto a tutti quelli che passano da {place}.",
            "I ragazzi del quartiere organizzano anche laboratori gratuiti ogni sabato mattina.",
            "Il servizio ci è piaciuto molto, anche se l'attesa è stata un po' lunga.",
            "Si può arrivare a piedi dal centro della città in una ventina di minuti.",
            "Per ulteriori informazioni, non esitate a contattare l'ufficio del turismo.",
        ),
    },
    "pt": {
        "noun": ("o mercado", "a biblioteca", "o museu", "a estação", "o bairro", "a padaria",
                 "o parque", "a câmara municipal", "o festival", "a praia"),
        "sentence": (
            "Este ano, {noun} de {place} recebeu muito mais visitantes do que se esperava.",
            "Os moradores estão muito satisfeitos com as obras que foram feitas durante o verão.",
            "Segundo o presidente da câmara, ainda faltam cerca de {n} meses para terminar as obras.",
            "Passámos um dia maravilhoso com os nossos filhos e alguns amigos.",
            "É aconselhável reservar com antecedência, sobretudo durante as férias escolares.",
            "O preço da entrada é razoável e os horários estão no site oficial.",
            "Depois da chuva fomos tomar um café perto de {noun}.",
            "Recomendo muito este lugar a todos os que passarem por {place}.",
            "Os jovens do bairro também organizam oficinas gratuitas todos os sábados de manhã.",
            "Gostámos muito do atendimento, embora a espera tenha sido um pouco longa.",
            "É possível chegar a pé a partir do centro da cidade em cerca de vinte minutos.",
            "Para mais informações, não hesite em contactar o posto de turismo.",
        ),
    },
    "nl": {
        "noun": ("de markt", "de bibliotheek", "het museum", "het station", "de wijk", "de bakkerij",
                 "het park", "het gemeentehuis", "het festival", "het strand"),
        "sentence": (
            "Dit jaar trok {noun} van {place} veel meer bezoekers dan verwacht.",
            "De bewoners zijn erg tevreden over de werkzaamheden die deze zomer zijn uitgevoerd.",
            "Volgens de burgemeester duurt het nog ongeveer {n} maanden voordat alles klaar is.",
            "We hebben een heerlijke dag gehad met onze kinderen en een paar vrienden.",
            "Het is verstandig om vooraf te reserveren, vooral tijdens de schoolvakanties.",
            "De toegangsprijs is redelijk en de openingstijden staan op de officiële website.",
            "Na de regen zijn we nog een kopje koffie gaan drinken bij {noun}.",
            "Ik kan deze plek iedereen aanraden die een keer door {place} komt.",
            "De jongeren uit de buurt organiseren ook elke zaterdagochtend gratis workshops.",
            "De bediening beviel ons heel goed, ook al was de wachttijd wat lang.",
            "Vanuit het centrum loop je er in ongeveer twintig minuten naartoe.",
            "Voor meer informatie kunt u contact opnemen met het toeristenbureau.",
        ),
    },
}

LANGUAGES = tuple(_BANK)


def foreign_document(language: str, rng: random.Random) -> str:
    """Two to five paragraphs of everyday prose in `language` (one of `LANGUAGES`)."""
    bank = _BANK[language]
    paragraphs = []
    for _ in range(rng.randint(2, 5)):
        sentences = rng.sample(bank["sentence"], rng.randint(3, 6))
        paragraphs.append(" ".join(s.format(noun=rng.choice(bank["noun"]), place=place(rng),
                                            n=rng.randrange(2, 18)) for s in sentences))
    text = "\n\n".join(paragraphs)
    return text[:1].upper() + text[1:]
