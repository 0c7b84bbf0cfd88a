"""The codes a FHIR export speaks: code systems, fieldkit's own URIs, vital-sign LOINC/UCUM codes,
and how fieldkit's statuses read in FHIR's value sets.

One URI base names everything fieldkit itself defines (identifier systems, local code systems,
extensions); a country that registers its own changes it here and nowhere else. A status map is
total over fieldkit's statuses (tests hold each one to the tuple it maps), so a status added to
fieldkit cannot leave an export with no FHIR status.
"""

from __future__ import annotations

from dataclasses import dataclass

from fieldkit.records.models import GLUCOSE, MEASURES

BASE = "https://fieldkit.example"
FHIR_BASE = f"{BASE}/fhir"  # the base of every entry's fullUrl


def id_system(kind: str) -> str:
    """The identifier system of fieldkit's ids of a kind of record, or of a patient's identifiers
    of one system ("national", "staff")."""
    return f"{BASE}/id/{kind}"


def code_system(name: str) -> str:
    """A code system of fieldkit's own (encounter kinds, programmes, referral statuses...)."""
    return f"{FHIR_BASE}/CodeSystem/{name}"


def extension_url(name: str) -> str:
    return f"{FHIR_BASE}/StructureDefinition/{name}"


PATIENT_SYSTEM = id_system("patient")

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"  # WHO ICD-10, not the US clinical modification
ICD11 = "http://id.who.int/icd/release/11/mms"
ATC = "http://www.whocc.no/atc"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
ROUTE = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"
ACT_SITE = "http://terminology.hl7.org/CodeSystem/v3-ActSite"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
FORECAST_STATUS = "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status"
LIST_EMPTY_REASON = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"

ENCOUNTER_KIND = code_system("encounter-kind")
SCORE = code_system("score")
REFERRAL_KIND = code_system("referral-kind")
REFERRAL_STATUS = code_system("referral-status")
NOT_ATTENDED = code_system("not-attended-reason")
PROGRAMME = code_system("programme")
LAB_TEST = code_system("lab-test")
LAB_ANSWER = code_system("lab-answer")
VACCINE = code_system("vaccine")
DISEASE = code_system("disease")
PREQUAL = "http://smart.who.int/pcmt-vaxprequal/CodeSystem/PreQualProductIds"  # WHO PreQual product ids
NOT_GIVEN = code_system("not-given-reason")
# fieldkit fields FHIR has no element for, kept so a collection reads back without loss.
ISSUED_DAY = extension_url("issued-day")  # a lab's issue day, when it gave no time (issued is an instant)
SCREENING_ROUND = extension_url("screening-round")
SERIES_ROUND = extension_url("series-round")  # 2: a series restarted after a test said the first did not work

# Encounter.class (v3 ActCode). A visit is at a clinic, fixed or mobile: ambulatory. Screening and
# vaccination days are campaigns at workplaces and schools, outside a care setting: field.
ENCOUNTER_CLASS = {"visit": "AMB", "teletriage": "VR", "home": "HH", "screening": "FLD", "vaccination": "FLD"}
CLASS_DISPLAY = {"AMB": "ambulatory", "VR": "virtual", "HH": "home health", "FLD": "field"}


@dataclass(frozen=True)
class VitalCode:
    """How one recorded measure is coded as an Observation."""

    loinc: str
    display: str
    ucum: str
    unit: str
    category: str  # observation-category
    decimals: int = 0
    also: tuple[tuple[str, str], ...] = ()  # further LOINC codings (code, display)


# LOINC short displays (ecosystem.md 2.2); the codes themselves are those records/models.py records with.
LOINC_DISPLAY = {
    "8310-5": "Body temperature", "8867-4": "Heart rate", "9279-1": "Respiratory rate",
    "8480-6": "Systolic blood pressure", "8462-4": "Diastolic blood pressure",
    "2708-6": "Oxygen saturation in Arterial blood", "29463-7": "Body weight", "8302-2": "Body height",
    "56072-2": "Circumference Mid upper arm",  # VERIFY display on loinc.org (ecosystem.md 2.2)
    "41653-7": "Glucose [Mass/volume] in Capillary blood by Glucometer",
    "15074-8": "Glucose [Moles/volume] in Blood",
}
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
BP_PARTS = ("systolic_bp", "diastolic_bp")
PULSE_OXIMETRY = ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry")
# Not vital signs in FHIR's value set: MUAC is an exam finding, a meter's glucose a (bedside) lab test.
_CATEGORY = {"muac_mm": "exam"}

VITALS: dict[str, VitalCode] = {
    name: VitalCode(m.loinc, LOINC_DISPLAY[m.loinc], m.ucum, m.unit, _CATEGORY.get(name, "vital-signs"), m.decimals,
                    (PULSE_OXIMETRY,) if name == "spo2" else ())
    for name, m in MEASURES.items() if name not in BP_PARTS
}
BP_COMPONENTS = {name: VitalCode(MEASURES[name].loinc, LOINC_DISPLAY[MEASURES[name].loinc], MEASURES[name].ucum,
                                 MEASURES[name].unit, "vital-signs") for name in BP_PARTS}
GLUCOSE_CODES = {unit: VitalCode(m.loinc, LOINC_DISPLAY[m.loinc], m.ucum, m.unit, "laboratory", m.decimals)
                 for unit, m in GLUCOSE.items()}
NEWS2 = ("news2", "NEWS2 total score")

# A referral's derived status (store/lifecycle.py) as the Task that follows it and as its request.
# Task: approved and issued are ready to go (the letter is printed); sent waits on the receiver.
REFERRAL_TASK_STATUS = {
    "awaiting_approval": "draft", "requested": "requested", "approved": "ready", "issued": "ready",
    "sent": "requested", "acknowledged": "accepted", "arrived": "in-progress", "completed": "completed",
    "declined": "rejected", "cancelled": "cancelled", "redirected": "rejected", "not_attended": "failed",
    "lost": "failed",
}
REFERRAL_REQUEST_STATUS = {
    "awaiting_approval": "draft", **dict.fromkeys(("requested", "approved", "issued", "sent", "acknowledged", "arrived"),
                                                  "active"),
    "completed": "completed", **dict.fromkeys(("declined", "cancelled", "redirected", "not_attended"), "revoked"),
    "lost": "unknown",  # nobody knows whether the patient was seen
}
URGENCY_PRIORITY = {"routine": "routine", "urgent": "urgent", "emergency": "stat"}

ENROLMENT_STATUS = {"active": "active", "paused": "onhold", "completed": "finished", "cancelled": "cancelled"}
# A historical dose (given elsewhere, told by the patient or a card) is completed too; primarySource says so.
IMMUNIZATION_STATUS = {"given": "completed", "historical": "completed", "not-given": "not-done",
                       "entered-in-error": "entered-in-error"}
# Why a dose was not given, as v3 ActReason where it has a code; every reason keeps its own code too.
NOT_GIVEN_ACT_REASON = {"contraindication": "MEDPREC", "refused": "PATOBJ", "out-of-stock": "OSTOCK"}
# records/vaccines.py's routes and sites as v3 codes (the mouth has no ActSite code: its text goes alone).
ROUTE_CODES = {"intramuscular": "IM", "subcutaneous": "SQ", "intradermal": "IDINJ", "oral": "PO"}
SITE_CODES = {"left arm": "LA", "right arm": "RA", "left thigh": "LT", "right thigh": "RT"}
LAB_STATUSES = ("preliminary", "final", "corrected", "cancelled", "entered-in-error")
INTERPRETATIONS = {"H": "High", "L": "Low", "N": "Normal", "A": "Abnormal", "HH": "Critical high", "LL": "Critical low",
                   "POS": "Positive", "NEG": "Negative", "IND": "Indeterminate"}
DUE = ("30980-7", "Date vaccine due")
EARLIEST = ("30981-5", "Earliest date to give")

# The International Patient Summary (reference/clinical.md E, ecosystem.md 2.5): the document's type
# and the sections fieldkit fills, in the order a reader meets them, by LOINC.
IPS_DOCUMENT = ("60591-5", "Patient summary Document")
IPS_SECTIONS = {
    "problems": ("11450-4", "Problem list - Reported"),
    "medications": ("10160-0", "History of Medication use Narrative"),
    "allergies": ("48765-2", "Allergies and adverse reactions Document"),
    "immunizations": ("11369-6", "History of Immunization Narrative"),
    "results": ("30954-2", "Relevant diagnostic tests/laboratory data Narrative"),
    "vital_signs": ("8716-3", "Vital signs"),
}
# Why a section is empty (list-empty-reason): fieldkit says "nil known" only where someone recorded
# that there is none; otherwise nothing recorded is "unavailable", never a claim that there is none.
EMPTY_REASONS = {"nilknown": "Nil Known", "notasked": "Not Asked", "withheld": "Information Withheld",
                 "unavailable": "Unavailable", "notstarted": "Not Started", "closed": "Closed"}
