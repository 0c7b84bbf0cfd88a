"""A demo clinic: realistic, deterministic patients and encounters in five languages.

Patients come from Arabic (Syria, Egypt, Libya), Persian (Iran), Vietnamese, French and English
naming cultures in roughly equal shares, in their own scripts, with the phones, identifiers,
towns and hospitals of their country. About 1% are registered a second time under a spelling
variant, so the duplicate warning and merge have something to find. Encounters follow a short
list of field conditions; most patients are well, a minority sick enough for a medium or high
NEWS2 score.

`people` is what the benchmarks replay; `seed_clinic` journals the same people into a store as
a clinic open for the past HISTORY_DAYS would have: each visit on its own day, in clinic hours, a
patient registered at the first one, every entry stamped then (the store's clock replays those
days, so the journal, its role checks and the day summaries all agree).
"""

from __future__ import annotations

import random
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from functools import cache
from itertools import accumulate, pairwise
from typing import Any, NamedTuple

from fieldkit.records.models import Encounter, Patient, age_in_years
from fieldkit.records.services import encounter_changes, registration
from fieldkit.store.db import Change, Store
from fieldkit.store.hlc import HybridClock

BATCH = 400  # changes per transaction: a progress step every fraction of a second
DUPLICATE_SHARE = 0.01
PHONE_SHARE = 0.85
ID_SHARE = 0.5  # of patients old enough to hold an identity card
ID_AGE = 16
ESTIMATED_SHARE = 0.08  # of adults, about 5% of everyone: only the year of birth is known
ALLERGY_SHARE = 0.10
PRESCRIBED_SHARE = 0.7
REFERRAL_SHARE = 0.035  # on top of every severely ill patient, who is always referred
FOLLOW_UP_SHARE = 0.20
HYPERCAPNIC_SHARE = 0.5  # of COPD patients: NEWS2 then scores their SpO2 on scale 2
CHILD_DOSE_AGE = 12
RECENT = 200  # the latest registrations, one of which a near-duplicate copies
HISTORY_DAYS = 90  # how long the demo clinic has been open
OPENING, CLOSING = clock_time(8, 0), clock_time(16, 30)  # its hours, local time
FOLLOW_UP_AFTER = (7, 14, 14, 28)  # days from a visit to the follow-up it books


def _words(text: str) -> tuple[str, ...]:
    """Whitespace-separated words; "_" is a space inside one ("عبد_الرحمن") and "*n" repeats one
    n times, to weight a random choice ("Nguyễn*14").

    NFC so the data compares equal to what a user types (input is NFC-normalised on entry).
    """
    words: list[str] = []
    for word in text.split():
        word, _, times = word.partition("*")
        words += [unicodedata.normalize("NFC", word.replace("_", " "))] * int(times or 1)
    return tuple(words)


def _items(text: str) -> tuple[str, ...]:
    """Comma-separated place names, which often hold spaces."""
    return tuple(unicodedata.normalize("NFC", item.strip()) for item in text.split(","))


def _rows(table: str) -> list[list[str]]:
    """The cells of a "|"-separated table, one row per line, under a line of column names."""
    return [[cell.strip() for cell in line.split("|")] for line in table.strip().splitlines()[1:]]


# -- countries and naming cultures ---------------------------------------------------------------


class Country(NamedTuple):
    code: str
    phone: str  # "X" is one of `operators`, "#" any digit
    operators: str
    id_system: str
    id_format: str  # str.format fields birth, sex (1 male, 2 female), century; then "#" any digit
    glucose_unit: str
    localities: tuple[str, ...]
    hospitals: tuple[str, ...]


SYRIA = Country(
    "SY", "+963 9X# ### ###", "345689", "national", "0##########", "mg/dL",
    _items("حلب, إدلب, سرمدا, الدانا, أعزاز, عفرين, جرابلس, الباب, منبج, حماة, حمص, دمشق, دوما, درعا, "
           "اللاذقية, طرطوس, دير الزور, الرقة, القامشلي, الحسكة"),
    _items("مشفى حلب الجامعي, مشفى باب الهوى, مشفى المواساة الجامعي, مشفى حمص الوطني, مشفى إدلب المركزي"))
EGYPT = Country(
    # Egyptian national numbers open with the century (2: 1900s, 3: 2000s) and the birth date.
    "EG", "+20 1X #### ####", "0125", "national", "{century}{birth:%y%m%d}#######", "mg/dL",
    _items("القاهرة, الجيزة, الإسكندرية, أسوان, الأقصر, أسيوط, سوهاج, المنيا, طنطا, المنصورة, الزقازيق, "
           "بني سويف, الفيوم, قنا, دمياط, بورسعيد, الإسماعيلية, العريش"),
    _items("مستشفى قصر العيني, مستشفى عين شمس التخصصي, مستشفى الإسكندرية الجامعي, مستشفى أسيوط الجامعي, "
           "مستشفى المنصورة الجامعي"))
LIBYA = Country(
    # Libyan national numbers open with the sex and the year of birth.
    "LY", "+218 9X ### ####", "1245", "national", "{sex}{birth:%Y}#######", "mg/dL",
    _items("طرابلس, بنغازي, مصراتة, سبها, الزاوية, زليتن, سرت, درنة, البيضاء, طبرق, غريان, الخمس, أجدابيا, "
           "غدامس, أوباري, الكفرة"),
    _items("مركز طرابلس الطبي, مركز بنغازي الطبي, مستشفى مصراتة المركزي, مركز سبها الطبي"))
IRAN = Country(
    "IR", "+98 9X# ### ####", "0123", "national", "##########", "mg/dL",
    _items("تهران, مشهد, اصفهان, شیراز, تبریز, کرمان, کرمانشاه, اهواز, زاهدان, یزد, رشت, همدان, بندرعباس, "
           "ارومیه, قم, سنندج, خرم‌آباد, بم"),
    _items("بیمارستان امام خمینی تهران, بیمارستان شریعتی, بیمارستان نمازی شیراز, بیمارستان امام رضا مشهد, "
           "بیمارستان الزهرا اصفهان"))
VIETNAM = Country(
    "VN", "+84 9X ### ####", "0134678", "national", "0###########", "mmol/L",
    _items("Hà Nội, Hải Phòng, Đà Nẵng, Huế, Cần Thơ, Nha Trang, Vinh, Quy Nhơn, Pleiku, Buôn Ma Thuột, "
           "Lào Cai, Sơn La, Điện Biên Phủ, Thái Nguyên, Nam Định, Thanh Hóa, Cà Mau, Long Xuyên, Mỹ Tho, Hà Giang"),
    _items("Bệnh viện Bạch Mai, Bệnh viện Chợ Rẫy, Bệnh viện Trung ương Huế, Bệnh viện Đa khoa Đà Nẵng, "
           "Bệnh viện Nhi Đồng 1"))
FRANCE = Country(
    # The NIR opens with the sex and the year and month of birth.
    "FR", "+33 X ## ## ## ##", "67", "national", "{sex}{birth:%y%m}##########", "mg/dL",
    _items("Paris, Marseille, Lyon, Toulouse, Nice, Nantes, Strasbourg, Montpellier, Bordeaux, Lille, Rennes, "
           "Reims, Saint-Étienne, Toulon, Grenoble, Dijon, Angers, Nîmes, Calais, Perpignan"),
    _items("CHU de Bordeaux, Hôpital Necker-Enfants malades, Hôpital de la Timone, Hospices Civils de Lyon, "
           "CHU de Toulouse"))
BRITAIN = Country(
    "GB", "+44 7X## ######", "4579", "nhs", "##########", "mmol/L",
    _items("London, Birmingham, Manchester, Leeds, Glasgow, Liverpool, Bristol, Sheffield, Edinburgh, Cardiff, "
           "Leicester, Bradford, Coventry, Belfast, Nottingham, Newcastle upon Tyne, Hull, Plymouth, Swansea, "
           "Aberdeen"),
    _items("Royal London Hospital, St Thomas' Hospital, Queen Elizabeth Hospital Birmingham, "
           "Manchester Royal Infirmary, Leeds General Infirmary"))


@dataclass(frozen=True)
class Culture:
    given: dict[str, tuple[str, ...]]  # by sex
    family: tuple[str, ...]
    middle: dict[str, tuple[str, ...]]  # by sex
    middle_share: float
    respellings: tuple[tuple[str, str], ...]  # (written, written again) for near-duplicates
    countries: tuple[Country, ...]
    name_order: str = "given-first"  # how a name is said (records/names.py)


def _culture(male: str, female: str, family: str, *, middle: tuple[str, str] | None, middle_share: float,
             respellings: str, countries: tuple[Country, ...], name_order: str = "given-first") -> Culture:
    """`middle` is (for men, for women), or None for a second given name of the patient's sex."""
    given = {"male": _words(male), "female": _words(female)}
    middles = given if middle is None else {"male": _words(middle[0]), "female": _words(middle[1])}
    pairs = tuple((written, again) for written, again in (pair.split(">") for pair in _words(respellings)))
    return Culture(given, _words(family), middles, middle_share, pairs, countries, name_order)


ARABIC_MEN = ("محمد أحمد علي حسن حسين محمود خالد عمر يوسف إبراهيم مصطفى عبدالله عبد_الرحمن سامر باسل وليد "
              "طارق ياسر كريم سعيد فراس ماهر نبيل رامي زياد هشام عماد أيمن جمال صلاح عادل منير")
CULTURES = (
    # Arabic: the father's given name goes in other_names, whatever the patient's sex.
    _culture(ARABIC_MEN,
             "فاطمة عائشة مريم زينب خديجة نور هدى سارة ليلى رنا سلمى أمل هبة رهف دعاء آية إيمان منى "
             "ياسمين لينا جميلة سعاد نادية رغد بتول هالة رشا سمر وفاء غادة",
             "الحسن الحسين الأحمد العلي المحمد الخليل العبدالله الخطيب الحلبي الشامي حداد النجار الصباغ قباني "
             "درويش منصور سليمان عيسى السيد الشريف عبد_الرحمن فهمي رمضان شحاتة المصري الورفلي المصراتي "
             "الزنتاني البرعصي الفيتوري",
             middle=(ARABIC_MEN, ARABIC_MEN), middle_share=0.85,
             respellings="ة>ه ى>ي أ>ا إ>ا آ>ا", countries=(SYRIA, EGYPT, LIBYA)),
    # Persian: Persian yeh and keheh, ZWNJ inside compound names; typed on an Arabic keyboard
    # they come out as Arabic yeh and kaf, or the ZWNJ is dropped.
    _culture("علی محمد حسین رضا مهدی حسن امیر محمدرضا علی‌رضا امیرحسین ابوالفضل مرتضی مصطفی جواد سعید "
             "حمید مجید وحید بهزاد کامران داریوش فرهاد بابک پویا آرش سینا امید یوسف اکبر عباس میلاد",
             "فاطمه زهرا مریم زینب سارا نرگس لیلا مهسا نازنین پریسا شیرین الهام سمیرا فرزانه معصومه "
             "طاهره کبری سکینه رقیه نگار یاسمن ستاره آزاده مینا شیما هانیه ریحانه فاطمه‌زهرا محدثه کوثر",
             "کریمی محمدی حسینی احمدی رضایی موسوی جعفری کاظمی رحیمی هاشمی قاسمی صادقی نوری طاهری اکبری "
             "سلیمانی مرادی عباسی زارعی کریم‌زاده حسن‌زاده فرهادی نجفی یزدانی شریفی امیری تهرانی اصفهانی",
             middle=None, middle_share=0.0,
             respellings="ی>ي ک>ك \u200c>", countries=(IRAN,)),
    # Vietnamese: family name, then a middle name (mostly Văn for men, Thị for women), then the
    # given name; weights give Nguyễn its real share of over a third. Near-duplicates drop the
    # tone marks, as on a keyboard without a Vietnamese layout.
    _culture("Minh Hùng Dũng Tuấn Nam Long Hải Sơn Phúc Quân Thắng Cường Khoa Bảo Huy Đức Trung Hiếu Tài "
             "Thành Việt Hoàng Vinh Khánh Lộc Tùng Hưng Phong Tâm Kiên",
             "Hương Lan Linh Mai Hoa Trang Thảo Ngọc Hằng Phương Thủy Hà Nhung Yến Vy Anh Nga Loan Dung "
             "Hạnh Tuyết Oanh Quỳnh Châu Diệp My Nhi Trâm Uyên Xuân",
             "Nguyễn*14 Trần*3 Lê*3 Phạm*2 Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô "
             "Dương Lý Trương Đinh Mai Lâm Cao Tạ",
             middle=("Văn*4 Đức Minh Quang Hữu Công Xuân", "Thị*4 Ngọc Thu Thanh Kim Mỹ"),
             middle_share=0.95, respellings="", countries=(VIETNAM,), name_order="family-first"),
    _culture("Jean Pierre Louis Lucas Hugo Gabriel Léo Arthur Jules Thomas Nicolas Julien Antoine Mathieu "
             "François Olivier Philippe Michel Alain Bernard Éric Laurent Sébastien Christophe Mohamed Karim "
             "Yanis Théo Raphaël Jean-Pierre",
             "Marie Jeanne Camille Léa Chloé Manon Emma Jade Louise Inès Sarah Juliette Élodie Céline "
             "Nathalie Isabelle Sophie Catherine Françoise Monique Hélène Anne Claire Aurélie Margaux Zoé "
             "Amélie Marie-Claire Anaïs Océane",
             "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefèvre "
             "Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Mercier Dupont Lambert "
             "Bonnet Rousseau Faure Benali",
             middle=None, middle_share=0.25,
             respellings="Mohamed>Muhammad Sarah>Sara -Pierre>_Pierre -Claire>_Claire", countries=(FRANCE,)),
    _culture("James John Robert Michael William David Richard Thomas Daniel Matthew George Harry Oliver Jack "
             "Charlie Jacob Alfie Noah Oscar Leo Samuel Joseph Benjamin Edward Henry Mohammed Stephen Paul "
             "Mark Andrew Philip",
             "Mary Elizabeth Sarah Emma Olivia Amelia Isla Ava Emily Sophie Grace Lily Jessica Charlotte "
             "Hannah Lucy Chloe Ella Mia Poppy Ruby Evie Margaret Susan Karen Helen Catherine Rachel Rebecca "
             "Anne Joanne Victoria",
             "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson "
             "Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner "
             "Cooper Hill Ward O'Brien",
             middle=None, middle_share=0.35,
             respellings="Mohammed>Muhammad Catherine>Katherine Stephen>Steven Sarah>Sara Matthew>Mathew "
                         "Rebecca>Rebekah Philip>Phillip Clarke>Clark Davies>Davis Thompson>Thomson "
                         "O'Brien>OBrien",
             countries=(BRITAIN,)),
)
ALLERGENS = _words("penicillin sulfonamides NSAIDs aspirin codeine latex peanuts eggs")

# (youngest, oldest) in years, and weights: a field clinic sees many small children and working adults.
AGE_BANDS = (((0, 5), (5, 18), (18, 60), (60, 90)), (20, 18, 47, 15))


# -- clinical content ----------------------------------------------------------------------------


class State(NamedTuple):
    """How ill a patient is: shifts from the age norms that the vitals are drawn around."""

    temperature: tuple[float, float]  # °C, uniform
    pulse: int  # beats/min above the age norm
    breaths: int  # breaths/min above the age norm
    spo2: tuple[int, int]  # %, uniform
    systolic: int  # mmHg above the age norm
    glucose: int  # mg/dL, median
    nutrition: float  # weight and MUAC against the norm
    alertness: str  # ACVPU letters to pick from
    oxygen: float  # share already on oxygen


STATES = {
    #                    temperature  pulse breaths SpO2    systolic glucose nutrition ACVPU  oxygen
    "well":         State((36.1, 37.2),  0,  0, (96, 100),    0,   95,  1.00,  "A",     0.0),
    "mild":         State((36.8, 38.2),  8,  2, (95, 99),     0,  100,  1.00,  "A",     0.0),
    "unwell":       State((38.3, 39.4), 22,  6, (93, 96),    -8,  110,  0.97,  "A",     0.0),
    "severe":       State((39.2, 40.4), 38, 12, (85, 91),   -35,  125,  0.95,  "AAACV", 0.3),
    "hypertensive": State((36.1, 37.2),  4,  0, (95, 99),    38,  105,  1.05,  "A",     0.0),
    "diabetic":     State((36.1, 37.2),  4,  0, (95, 99),    12,  230,  1.10,  "A",     0.0),
    "breathless":   State((36.6, 38.4), 18,  9, (86, 92),     6,  105,  0.95,  "A",     0.2),
    "wasted":       State((35.9, 37.6), 10,  4, (94, 99),    -5,   85,  0.82,  "A",     0.0),
}

# Resting norms: (below this age in years, pulse, respiratory rate, systolic BP).
NORMS = ((1, 130, 38, 85), (5, 105, 27, 95), (12, 88, 21, 105), (18, 78, 17, 115), (60, 74, 15, 122),
         (200, 72, 16, 134))

# WHO growth medians, both sexes: (age in years, weight kg, height cm); adults by sex below.
GROWTH = ((0, 3.3, 50), (0.5, 7.6, 66), (1, 9.6, 75), (2, 12.2, 87), (5, 18.3, 110), (10, 32, 138),
          (15, 54, 167), (18, 62, 172))
ADULT_SIZE = {"male": (74, 173), "female": (66, 161)}  # median weight kg, height cm


class Condition(NamedTuple):
    code: str  # ICD-10
    text: str
    ages: tuple[float, float]  # years, from (inclusive) to (exclusive)
    share: int
    kinds: tuple[str, ...]  # encounter kinds it is seen in
    states: tuple[str, ...]  # keys of STATES
    countries: tuple[str, ...]  # empty: everywhere
    drugs: tuple[str, ...]  # keys of DRUGS
    notes: str  # "{days}": days since it began
    review: str  # what a follow-up is for


CONDITIONS_TABLE = """
code  | diagnosis                         | ages  | share | kinds                   | states               | where
J06.9 | upper respiratory tract infection | 0-90  | 20    | visit*3 home teletriage | well mild*2          |
J18.9 | pneumonia                         | 0-90  | 8     | visit*2 home teletriage | unwell*2 severe      |
A09   | diarrhoea and gastroenteritis     | 0-90  | 12    | visit*2 home teletriage | mild*2 unwell        |
B54   | malaria                           | 1-90  | 6     | visit home              | mild unwell*2 severe | VN LY
E44.0 | moderate malnutrition             | 0.5-5 | 5     | screening visit home    | wasted               |
Z27.8 | childhood immunization            | 0-6   | 10    | vaccination             | well                 |
Z00.1 | routine child health check        | 0-18  | 6     | screening               | well                 |
Z00.0 | general medical examination       | 18-90 | 6     | screening               | well                 |
L08.9 | skin infection                    | 0-90  | 5     | visit home              | well mild            |
N39.0 | urinary tract infection           | 12-90 | 5     | visit*2 teletriage      | mild unwell          |
K29.7 | gastritis                         | 12-90 | 5     | visit*2 teletriage      | well                 |
I10   | essential hypertension            | 30-90 | 8     | visit screening home    | hypertensive         |
E11.9 | type 2 diabetes                   | 30-90 | 6     | visit screening home    | diabetic             |
J44.1 | COPD with acute exacerbation      | 45-90 | 3     | visit home              | breathless*2 severe  |
"""
CARE_TABLE = """
code  | drugs                               | notes                                           | follow-up
J06.9 | paracetamol                         | cough and runny nose for {days} days            | check the cough has settled
J18.9 | amoxicillin paracetamol             | fever, cough and fast breathing for {days} days | check breathing after 3 days
A09   | ORS zinc                            | watery diarrhoea for {days} days                | check hydration
B54   | artemether-lumefantrine paracetamol | fever and chills for {days} days; RDT positive  | check the fever has gone
E44.0 |                                     | poor appetite and weight loss                   | weigh and measure MUAC again
Z27.8 |                                     | routine vaccines due                            | next vaccine dose
Z00.1 |                                     | growth monitoring                               | next growth check
Z00.0 |                                     | routine check-up                                | blood test results
L08.9 | cloxacillin                         | infected sore on the leg for {days} days        | check the wound
N39.0 | nitrofurantoin paracetamol          | burning on passing urine for {days} days        | check the symptoms have gone
K29.7 | omeprazole                          | upper abdominal pain for {days} days            | check the pain has eased
I10   | amlodipine                          | headaches; blood pressure review                | recheck blood pressure
E11.9 | metformin                           | thirst and tiredness; diabetes review           | recheck blood glucose
J44.1 | salbutamol                          | more breathless for {days} days                 | check inhaler technique
"""


def _conditions() -> list[Condition]:
    care = {code: (_words(drugs), notes, review) for code, drugs, notes, review in _rows(CARE_TABLE)}
    conditions = []
    for code, text, ages, share, kinds, states, countries in _rows(CONDITIONS_TABLE):
        youngest, oldest = map(float, ages.split("-"))
        conditions.append(Condition(code, text, (youngest, oldest), int(share), _words(kinds), _words(states),
                                    _words(countries), *care[code]))
    return conditions


CONDITIONS = _conditions()
COPD = "J44.1"


class Drug(NamedTuple):
    adult: str  # dose; empty: not for adults
    child: str  # dose below CHILD_DOSE_AGE; empty: not for children
    route: str
    frequency: str
    days: int
    allergy: str  # an allergy that rules it out


DRUGS_TABLE = """
drug                    | adult dose | child dose | route   | frequency               | days | not with allergy
amoxicillin             | 500 mg     | 25 mg/kg   | oral    | three times daily       | 5    | penicillin
cloxacillin             | 500 mg     | 15 mg/kg   | oral    | four times daily        | 7    | penicillin
paracetamol             | 1 g        | 15 mg/kg   | oral    | every 6 hours if needed | 3    |
ORS                     | 200 mL     | 100 mL     | oral    | after each loose stool  | 3    |
zinc                    |            | 20 mg      | oral    | once daily              | 10   |
artemether-lumefantrine | 4 tablets  | 2 tablets  | oral    | twice daily             | 3    |
metformin               | 500 mg     |            | oral    | twice daily             | 30   |
amlodipine              | 5 mg       |            | oral    | once daily              | 30   |
nitrofurantoin          | 100 mg     |            | oral    | twice daily             | 5    |
omeprazole              | 20 mg      |            | oral    | once daily              | 14   |
salbutamol              | 2 puffs    |            | inhaled | every 4 hours if needed | 5    |
"""
DRUGS = {name: Drug(adult, child, route, frequency, int(days), allergy)
         for name, adult, child, route, frequency, days, allergy in _rows(DRUGS_TABLE)}

REFERRAL_REASONS = {"emergency": "severe {}: needs admission", "urgent": "{} not improving on treatment",
                    "routine": "specialist review of {}"}
ENCOUNTER_COUNTS = ((0, 1, 2, 3), (15, 35, 35, 15))  # values, weights: 1.5 on average


# -- patients ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    patient: Patient
    encounters: list[dict]  # Encounter fields without patient_id, which the caller adds


@dataclass(frozen=True)
class _Draft:
    """A patient's fields before validation, with what the encounters need to know about them."""

    data: dict[str, Any]
    culture: Culture
    country: Country
    age: float  # years


def _digits(template: str, rng: random.Random) -> str:
    count = template.count("#")
    return template.replace("#", "{}").format(*f"{rng.randrange(10 ** count):0{count}d}")


def _birth(rng: random.Random, today: date) -> tuple[date, bool, float]:
    """Birth date, whether it is estimated, and age in years."""
    youngest, oldest = rng.choices(*AGE_BANDS)[0]
    days = rng.randrange(round(youngest * 365.25), round(oldest * 365.25))
    born = today - timedelta(days=days)
    if youngest >= 18 and rng.random() < ESTIMATED_SHARE:
        return date(born.year, 7, 1), True, days / 365.25
    return born, False, days / 365.25


def _identifier(rng: random.Random, country: Country, born: date, sex: str) -> str:
    fields = {"birth": born, "sex": 2 if sex == "female" else 1, "century": born.year // 100 - 17}
    return _digits(country.id_format.format(**fields), rng)


def _draft(rng: random.Random, today: date) -> _Draft:
    culture = rng.choice(CULTURES)
    country = rng.choice(culture.countries)
    sex = rng.choice(("female", "male"))
    born, estimated, age = _birth(rng, today)
    data: dict[str, Any] = {"given_name": rng.choice(culture.given[sex]), "family_name": rng.choice(culture.family),
                            "sex": sex, "birth_date": born, "birth_date_estimated": estimated,
                            "locality": rng.choice(country.localities)}
    if rng.random() < culture.middle_share:
        data["other_names"] = rng.choice(culture.middle[sex])
    if culture.name_order != "given-first":
        data["name_order"] = culture.name_order
    if rng.random() < PHONE_SHARE:
        data["phone"] = _digits(country.phone.replace("X", rng.choice(country.operators)), rng)
    if age >= ID_AGE and rng.random() < ID_SHARE:
        data["identifiers"] = {country.id_system: _identifier(rng, country, born, sex)}
    if rng.random() < ALLERGY_SHARE:
        data["allergies"] = rng.sample(ALLERGENS, rng.choice((1, 1, 1, 2)))
    return _Draft(data, culture, country, age)


def _plain(text: str) -> str:
    """Without accents, tone marks or hamza: what a keyboard without the right layout gives."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _respellings(draft: _Draft) -> list[tuple[str, str]]:
    """(field, value) pairs: the ways a second clerk might write this patient's name."""
    names = [(field, draft.data[field]) for field in ("given_name", "family_name")]
    found = [(field, name.replace(old, new)) for field, name in names
             for old, new in draft.culture.respellings if old in name]
    return found or [(field, _plain(name)) for field, name in names if _plain(name) != name]


def _near_duplicate(rng: random.Random, recent: deque[_Draft]) -> _Draft | None:
    """A recent patient registered again with the name spelt differently, often without the ID card."""
    for draft in rng.sample(recent, min(len(recent), 5)):
        if found := _respellings(draft):
            recent.remove(draft)  # registered twice, not three times
            field, value = rng.choice(found)
            data = draft.data | {field: value}
            if rng.random() < 0.5:
                data.pop("identifiers", None)
            return _Draft(data, draft.culture, draft.country, draft.age)
    return None


# -- encounters ----------------------------------------------------------------------------------


def _norms(age: float) -> tuple[int, int, int]:
    return next(norm[1:] for norm in NORMS if age < norm[0])


def _growth(age: float) -> tuple[float, float]:
    """Median weight and height of a child, interpolated between the GROWTH rows."""
    for (age0, weight0, height0), (age1, weight1, height1) in pairwise(GROWTH):
        if age < age1:
            part = (age - age0) / (age1 - age0)
            return weight0 + part * (weight1 - weight0), height0 + part * (height1 - height0)
    return GROWTH[-1][1:]


def _size(rng: random.Random, draft: _Draft, state: State) -> dict[str, float]:
    """Weight for everyone weighed, height for children; MUAC from 6 to 59 months, as screened."""
    adult = draft.age >= 18
    weight, height = ADULT_SIZE[draft.data["sex"]] if adult else _growth(draft.age)
    size = {"weight_kg": round(max(0.8 * weight, rng.gauss(weight, weight * 0.12)) * state.nutrition, 1)}
    if not adult:
        size["height_cm"] = round(rng.gauss(height, height * 0.04), 1)
    if 0.5 <= draft.age < 5:
        size["muac_mm"] = round(rng.gauss(145 * state.nutrition, 7))
    return size


def _glucose(rng: random.Random, state: State, unit: str) -> dict[str, Any]:
    mg_dl = rng.gauss(state.glucose, state.glucose * 0.12)
    value = round(mg_dl) if unit == "mg/dL" else round(mg_dl / 18.0, 1)
    return {"glucose": value, "glucose_unit": unit}


def _vitals(rng: random.Random, draft: _Draft, state: State, kind: str) -> dict[str, Any]:
    vitals: dict[str, Any] = {"temperature_c": round(rng.uniform(*state.temperature), 1)}
    if kind == "teletriage":
        return vitals  # reported over the phone: a thermometer reading at most
    if kind != "vaccination":
        pulse, breaths, systolic = _norms(draft.age)
        vitals |= {"pulse": round(rng.gauss(pulse + state.pulse, 7)),
                   "resp_rate": round(rng.gauss(breaths + state.breaths, 2)),
                   "spo2": rng.randint(*state.spo2), "avpu": rng.choice(state.alertness)}
        if rng.random() < state.oxygen:
            vitals["on_oxygen"] = True
        if draft.age >= 12:  # field clinics rarely have cuffs for younger children
            systolic = round(rng.gauss(systolic + state.systolic, 9))
            vitals |= {"systolic_bp": systolic, "diastolic_bp": round(systolic * rng.uniform(0.58, 0.7))}
        if draft.age >= 30 and (kind == "screening" or state.glucose > 150):
            vitals |= _glucose(rng, state, draft.country.glucose_unit)
    if draft.age < 18 or rng.random() < 0.5:
        vitals |= _size(rng, draft, state)
    return vitals


@cache
def _conditions_at(half_years: int, country: str) -> tuple[tuple[Condition, ...], list[int]]:
    """The conditions seen at this age and in this country, with cumulative shares.

    Every age bound in CONDITIONS is a whole or half year, so one answer serves a half year.
    """
    age = half_years / 2
    found = tuple(c for c in CONDITIONS
                  if c.ages[0] <= age < c.ages[1] and (not c.countries or country in c.countries))
    return found, list(accumulate(c.share for c in found))


def _pick_condition(rng: random.Random, draft: _Draft) -> Condition:
    found, cumulative = _conditions_at(int(draft.age * 2), draft.country.code)
    return rng.choices(found, cum_weights=cumulative)[0]


def _diagnosis(rng: random.Random, condition: Condition, kind: str) -> dict[str, str]:
    # A phone triage often records an impression, not a coded diagnosis.
    if kind == "teletriage" and rng.random() < 0.5:
        return {"text": condition.text}
    return {"code": condition.code, "text": condition.text}


def _prescriptions(rng: random.Random, condition: Condition, draft: _Draft) -> list[dict[str, Any]]:
    if rng.random() >= PRESCRIBED_SHARE:
        return []
    allergies = draft.data.get("allergies", ())
    prescriptions = []
    for name in condition.drugs:
        drug = DRUGS[name]
        dose = drug.child if draft.age < CHILD_DOSE_AGE else drug.adult
        if dose and drug.allergy not in allergies:
            prescriptions.append({"drug": name, "dose": dose, "route": drug.route, "frequency": drug.frequency,
                                  "duration_days": drug.days})
    return prescriptions


def _referral(rng: random.Random, condition: Condition, state_name: str, country: Country) -> dict[str, str] | None:
    if state_name == "severe":
        urgency = "emergency"
    elif rng.random() < REFERRAL_SHARE:
        urgency = rng.choice(("urgent", "routine"))
    else:
        return None
    return {"to_facility": rng.choice(country.hospitals), "reason": REFERRAL_REASONS[urgency].format(condition.text),
            "urgency": urgency}


def _encounter(rng: random.Random, draft: _Draft, today: date) -> dict[str, Any]:
    condition = _pick_condition(rng, draft)
    kind = rng.choice(condition.kinds)
    state_name = rng.choice(condition.states)
    encounter: dict[str, Any] = {
        "kind": kind, "notes": condition.notes.format(days=rng.randint(1, 7)),
        "vitals": _vitals(rng, draft, STATES[state_name], kind), "diagnoses": [_diagnosis(rng, condition, kind)]}
    if condition.code == COPD and rng.random() < HYPERCAPNIC_SHARE:
        encounter["hypercapnic"] = True
    if prescriptions := _prescriptions(rng, condition, draft):
        encounter["prescriptions"] = prescriptions
    if referral := _referral(rng, condition, state_name, draft.country):
        encounter["referral"] = referral
    if rng.random() < FOLLOW_UP_SHARE:
        due = today + timedelta(days=rng.randint(-7, 30))  # some already overdue, as on any real list
        encounter["follow_up"] = {"due": due.isoformat(), "reason": condition.review}
    return encounter


# -- public --------------------------------------------------------------------------------------


def people(count: int, *, seed: int = 2026, today: date | None = None) -> Iterator[Person]:
    """`count` demo patients with their encounters; the same seed and day give the same people."""
    rng = random.Random(seed)
    today = today or date.today()
    recent: deque[_Draft] = deque(maxlen=RECENT)
    for _ in range(count):
        draft = _near_duplicate(rng, recent) if rng.random() < DUPLICATE_SHARE else None
        if draft is None:
            draft = _draft(rng, today)
            recent.append(draft)
        encounters = [_encounter(rng, draft, today) for _ in range(rng.choices(*ENCOUNTER_COUNTS)[0])]
        yield Person(Patient.model_validate(draft.data), encounters)


def person_changes(person: Person) -> list[Change]:
    """Everything registering `person` journals: the patient, then each encounter with its tasks."""
    change = registration(person.patient)
    changes = [change]
    birth = person.patient.birth_date
    age = age_in_years(birth) if birth else None
    for data in person.encounters:
        encounter = Encounter.model_validate({**data, "patient_id": change.entity_id})
        changes += encounter_changes(encounter, age_years=age)[1]
    return changes


def opening(today: date | None = None) -> int:
    """When the demo clinic opened, HISTORY_DAYS ago, in wall-clock milliseconds: its supervisor
    is created then, before anything she records."""
    first = (today or date.today()) - timedelta(days=HISTORY_DAYS - 1)
    return int(datetime.combine(first, OPENING).timestamp() * 1000) - 30 * 60 * 1000


def _moment(rng: random.Random, on: date, latest: datetime) -> datetime:
    """A time in clinic hours on `on`, or on the day before if that time has not come yet."""
    opened = datetime.combine(on, OPENING)
    moment = opened + timedelta(seconds=rng.uniform(0, (datetime.combine(on, CLOSING) - opened).total_seconds()))
    return moment if moment < latest else moment - timedelta(days=1)


def _visits(rng: random.Random, person: Person, today: date, latest: datetime) -> list[tuple[datetime, list[Change]]]:
    """The person's visits, each with its moment and what it journals; the registration goes with
    the first (a few minutes before it). A visit that booked a follow-up is dated a week or more
    before it falls due, so older follow-ups count as done and the open list looks like a clinic's."""
    days = []
    for data in person.encounters:
        if "follow_up" in data:
            due = date.fromisoformat(data["follow_up"]["due"])
            days.append(min(today, due - timedelta(days=rng.choice(FOLLOW_UP_AFTER))))
        else:
            days.append(today - timedelta(days=rng.randrange(HISTORY_DAYS)))
    dated = sorted(((_moment(rng, on, latest), data) for on, data in zip(days, person.encounters)),
                   key=lambda visit: visit[0])
    first = dated[0][0] if dated else _moment(rng, today - timedelta(days=rng.randrange(HISTORY_DAYS)), latest)
    change = registration(person.patient)
    visits = [(first - timedelta(minutes=rng.randint(2, 20)), [change])]
    birth = person.patient.birth_date
    age = age_in_years(birth) if birth else None
    for moment, data in dated:
        encounter = Encounter.model_validate({**data, "patient_id": change.entity_id})
        visits.append((moment, encounter_changes(encounter, age_years=age, on=moment.date())[1]))
    return visits


@dataclass(frozen=True)
class SeedReport:
    patients: int
    encounters: int
    seconds: float


def seed_clinic(store: Store, user_id: str, count: int, *, seed: int = 2026, today: date | None = None,
                progress: Callable[[int, int], None] | None = None) -> SeedReport:
    """Journal `count` demo patients into `store`, each visit at its moment of the past
    HISTORY_DAYS, a few hundred changes per transaction."""
    started = time.perf_counter()
    today = today or date.today()
    latest = min(datetime.now(), datetime.combine(today + timedelta(days=1), clock_time()))
    rng = random.Random(f"visits {seed}")  # apart from `people`'s, which the benchmarks replay
    visits: list[tuple[datetime, list[Change]]] = []
    encounters = 0
    for person in people(count, seed=seed, today=today):
        visits += _visits(rng, person, today, latest)
        encounters += len(person.encounters)
    visits.sort(key=lambda visit: visit[0])
    # The store's clock reads its wall once per entry it stamps, so handing it each change's moment
    # in order stamps every entry at its visit while a batch stays one append: the build takes no
    # longer than without a past (tests/records/test_demo.py holds the entries to their visits).
    moments: deque[int] = deque()
    store.clock = HybridClock(store.clock.last, wall=lambda: moments.popleft() if moments else 0)
    moments.extend(int(moment.timestamp() * 1000) for moment, changes in visits for _change in changes)
    try:
        start = 0
        while start < len(visits):
            end, batch = start, list[Change]()
            while end < len(visits) and len(batch) < BATCH:
                batch += visits[end][1]
                end += 1
            store.append(batch, user=user_id)
            start = end
            if progress:
                progress(count * start // len(visits), count)
    finally:
        store.clock = HybridClock(store.clock.last)  # the laptop's own clock again, from the last stamp
    return SeedReport(count, encounters, time.perf_counter() - started)
