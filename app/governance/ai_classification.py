"""The EU AI Act questionnaire and its decision logic, as plain data and pure functions (no database).

The questionnaire is a list of steps, each a group of questions. `clean_step` turns what a form sent
for one step into stored answers (keeping every valid answer, reporting the rest); `missing` names
the answers still needed; `classify` turns a complete set of answers into an `Outcome`: the tier
(prohibited > high-risk > transparency > GPAI > minimal), the reasoning (each deciding answer with its
article) and the obligations that follow from the tier and the organisation's role(s).

Regulation (EU) 2024/1689. References use the compliance library's form ("Art.9", "Art.5(1)(c)") so
obligations can link to the EU AI Act requirement pages when that framework is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from app.governance.ai_models import AIActRole, RiskTier

YES, NO = "yes", "no"
ROLE_ORDER = ("provider", "deployer", "importer", "distributor")


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    ref: str = ""  # the article the question comes from, shown beside it
    kind: str = "yesno"  # yesno | choice | multi
    options: tuple[tuple[str, str], ...] = ()  # (value, label) for choice and multi
    help: str = ""
    follows: str = ""  # a follow-up question: asked only when the question with this key was answered yes

    def applies(self, answers: Mapping) -> bool:
        return not self.follows or answers.get(self.follows) == YES


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    intro: str
    questions: tuple[Question, ...]


ROLE_LABELS = {
    "provider": "Provider — we develop it, or have it developed, and place it on the market or put it into service "
                "under our own name",
    "deployer": "Deployer — we use it under our authority in a professional activity",
    "importer": "Importer — we place on the EU market a system from a provider established outside the EU",
    "distributor": "Distributor — we make it available on the EU market, neither provider nor importer",
}

ANNEX_III_AREAS = {  # value: (Annex III point, short name, description)
    "biometrics": (1, "biometrics", "Remote biometric identification, biometric categorisation by sensitive "
                   "attributes, emotion recognition"),
    "critical_infrastructure": (2, "critical infrastructure", "Safety components in the management and operation "
                                "of critical digital infrastructure, road traffic, water, gas, heating, electricity"),
    "education": (3, "education", "Admission, assessment of learning outcomes, steering learning, "
                  "proctoring in education and vocational training"),
    "employment": (4, "employment", "Recruitment and selection (e.g. CV screening), decisions on promotion, "
                   "termination, task allocation, monitoring and evaluating workers"),
    "essential_services": (5, "essential services", "Eligibility for public benefits, creditworthiness and credit "
                           "scores, life and health insurance pricing, emergency call triage"),
    "law_enforcement": (6, "law enforcement", "Victim risk, polygraphs, evidence reliability, re-offending risk, "
                        "profiling in criminal investigations"),
    "migration": (7, "migration and border control", "Polygraphs, security or health risk of travellers, asylum, "
                  "visa and residence applications, identifying people at borders"),
    "justice": (8, "justice and democracy", "Assisting judicial authorities in researching and applying the law; "
                "influencing the outcome of elections or referendums or voting behaviour"),
}

PROHIBITED_PRACTICES = {  # answer key: (Art. 5 point, plain-language question)
    "art5_a": ("a", "Does it use subliminal, manipulative or deceptive techniques that distort people’s behaviour "
               "and are likely to cause them significant harm?"),
    "art5_b": ("b", "Does it exploit vulnerabilities of people due to their age, disability or social or economic "
               "situation, distorting their behaviour in a way likely to cause significant harm?"),
    "art5_c": ("c", "Does it score people over time by their social behaviour or personal traits (social scoring), "
               "leading to unjustified or disproportionate detrimental treatment?"),
    "art5_d": ("d", "Does it predict the risk that a person will commit a crime based solely on profiling or on "
               "their personality traits?"),
    "art5_e": ("e", "Does it build or expand facial recognition databases by untargeted scraping of facial images "
               "from the internet or CCTV footage?"),
    "art5_f": ("f", "Does it infer the emotions of people at the workplace or in education (other than for medical "
               "or safety reasons)?"),
    "art5_g": ("g", "Does it categorise people by their biometric data to deduce their race, political opinions, "
               "trade union membership, religious or philosophical beliefs, sex life or sexual orientation?"),
    "art5_h": ("h", "Is it used for real-time remote biometric identification in publicly accessible spaces for "
               "law enforcement (outside the narrow exceptions of Art. 5(1)(h))?"),
}

TRANSPARENCY = {  # answer key: (ref, question, reasoning when yes)
    "art50_interacts": ("Art.50(1)", "Does it interact directly with people, for example as a chatbot or voice "
                        "assistant?", "It interacts directly with people, who must be told they are dealing with "
                        "an AI system"),
    "art50_synthetic": ("Art.50(2)", "Does it generate or manipulate synthetic audio, images, video or text, "
                        "including deepfakes?", "It generates or manipulates synthetic content, which must be "
                        "marked as AI-generated (deepfakes disclosed, Art. 50(4))"),
    "art50_emotion": ("Art.50(3)", "Is it an emotion recognition or biometric categorisation system?",
                      "It recognises emotions or categorises people biometrically, so the people exposed must be "
                      "informed"),
}


STEPS: tuple[Step, ...] = (
    Step("role", "Your organisation’s role",
         "Obligations depend on what your organisation does with the system. Choose every role that applies.",
         (Question("roles", "What is your organisation’s role for this system?", "Art.3", kind="multi",
                   options=tuple(ROLE_LABELS.items())),)),
    Step("gpai", "General-purpose AI",
         "A general-purpose AI model is trained on broad data at scale, shows significant generality and can "
         "perform a wide range of distinct tasks (for example a large language model).",
         (Question("gpai", "Is this a general-purpose AI model, or do you provide one as part of it?", "Art.51"),
          Question("gpai_systemic", "Does the model have systemic risk (high-impact capabilities, e.g. training "
                   "compute above 10²⁵ FLOPs, or designated by the Commission)?", "Art.51(1)", follows="gpai",
                   help="Only if it is a general-purpose AI model."))),
    Step("prohibited", "Prohibited practices",
         "Article 5 bans these practices outright. Answer each one for what the system does or is used for.",
         tuple(Question(key, text, f"Art.5(1)({point})") for key, (point, text) in PROHIBITED_PRACTICES.items())),
    Step("annex1", "Product safety",
         "Systems that are safety components of regulated products (machinery, toys, medical devices, lifts, "
         "radio equipment, vehicles, ... listed in Annex I) are high-risk when the product needs a third-party "
         "conformity assessment.",
         (Question("annex1", "Is it a product, or the safety component of a product, covered by Annex I legislation "
                   "that requires a third-party conformity assessment?", "Art.6(1)"),)),
    Step("annex3", "High-risk areas (Annex III)",
         "Systems used in these areas are high-risk unless they only perform a narrow supporting task "
         "— and never when they profile people.",
         (Question("annex3", "Is it intended to be used in one of the Annex III areas?", "Art.6(2)"),
          Question("annex3_area", "Which area?", "Annex III", kind="choice",
                   options=tuple((k, f"{p}. {n.capitalize()} — {d}") for k, (p, n, d) in ANNEX_III_AREAS.items()),
                   follows="annex3"),
          Question("annex3_profiling", "Does it profile natural persons (automated evaluation of a person’s work "
                   "performance, economic situation, health, preferences, reliability, behaviour, location)?",
                   "Art.6(3)", follows="annex3"),
          Question("annex3_derogation", "Does it only perform a narrow procedural task, improve the result of a "
                   "completed human activity, detect patterns without replacing human assessment, or do a "
                   "preparatory task — without materially influencing decisions?", "Art.6(3)",
                   follows="annex3", help="The Article 6(3) derogation; it never applies when the system "
                   "profiles people."))),
    Step("transparency", "Transparency",
         "Article 50 adds transparency duties for systems people interact with or whose output they see.",
         tuple(Question(key, text, ref) for key, (ref, text, _why) in TRANSPARENCY.items())),
)

STEP_KEYS = tuple(s.key for s in STEPS)
QUESTIONS = {q.key: q for s in STEPS for q in s.questions}


def step_by_key(key: str) -> Step:
    return STEPS[STEP_KEYS.index(key)] if key in STEP_KEYS else STEPS[0]


# --- answers ---------------------------------------------------------------------------------------


def _normalise(question: Question, raw) -> tuple[object | None, str | None]:
    """One raw value (form or JSON) → (stored value or None, error or None)."""
    if question.kind == "multi":
        values = [raw] if isinstance(raw, str) else list(raw or [])
        allowed = {v for v, _ in question.options}
        values = [v for v in dict.fromkeys(str(v).strip().lower() for v in values) if v]
        bad = [v for v in values if v not in allowed]
        if bad:
            return None, f"“{bad[0][:30]}” is not one of: {', '.join(sorted(allowed))}."
        return (values or None), None
    if raw is None or raw == "":
        return None, None
    if question.kind == "yesno":
        if isinstance(raw, bool):
            return (YES if raw else NO), None
        value = str(raw).strip().lower()
        if value in (YES, NO):
            return value, None
        return None, "Answer yes or no."
    value = str(raw).strip().lower()
    if value in {v for v, _ in question.options}:
        return value, None
    return None, f"“{value[:30]}” is not one of: {', '.join(v for v, _ in question.options)}."


def _required_message(question: Question) -> str:
    return {"multi": "Choose at least one.", "choice": "Choose one."}.get(question.kind, "Answer yes or no.")


def clean_step(step_key: str, raw: Mapping, answers: Mapping) -> tuple[dict, dict[str, list[str]]]:
    """What a form sent for one step → (answers to store for that step, field errors).

    Valid answers are kept even when others are missing, so a half-filled step is never lost.
    Follow-up questions whose condition no longer holds are dropped.
    """
    step = step_by_key(step_key)
    stored, errors = {}, {}
    for question in step.questions:
        value, error = _normalise(question, raw.get(question.key))
        if error:
            errors[question.key] = [error]
        elif value is not None:
            stored[question.key] = value
    merged = dict(answers) | stored
    for question in step.questions:
        if not question.applies(merged):
            stored.pop(question.key, None)
            errors.pop(question.key, None)
        elif question.key not in stored and question.key not in errors:
            errors[question.key] = [_required_message(question)]
    return stored, errors


def merge_step(answers: Mapping, step_key: str, stored: Mapping) -> dict:
    """The answers with one step's answers replaced (answers of other steps untouched)."""
    keys = {q.key for q in step_by_key(step_key).questions}
    return {k: v for k, v in answers.items() if k not in keys} | dict(stored)


def clean_all(raw: Mapping) -> tuple[dict, dict[str, list[str]]]:
    """A whole questionnaire (the API's `answers`) → (answers, errors naming every missing or invalid one)."""
    answers, errors = {}, {}
    unknown = [k for k in raw if k not in QUESTIONS]
    if unknown:
        errors[unknown[0]] = [f"Unknown question; the questions are: {', '.join(QUESTIONS)}."]
    for step in STEPS:
        stored, step_errors = clean_step(step.key, raw, answers)
        answers |= stored
        errors |= step_errors
    return answers, errors


def missing(answers: Mapping) -> dict[str, list[str]]:
    """The questions still unanswered (or answered invalidly) in stored answers, by key."""
    return clean_all(answers)[1]


def first_incomplete_step(answers: Mapping) -> str | None:
    gaps = missing(answers)
    return next((s.key for s in STEPS if any(q.key in gaps for q in s.questions)), None)


# --- the outcome -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Obligation:
    ref: str  # the compliance library's requirement ref, e.g. "Art.9"
    title: str
    detail: str = ""

    @property
    def article(self) -> str:
        return self.ref.replace("Art.", "Art. ")

    def as_dict(self) -> dict:
        return {"ref": self.ref, "article": self.article, "title": self.title, "detail": self.detail}


@dataclass(frozen=True)
class Outcome:
    tier: RiskTier
    roles: list[str]
    annex: str = ""  # annex_i | annex_iii
    area: str = ""  # Annex III area key
    gpai: bool = False
    systemic_risk: bool = False
    derogation: bool = False
    reasoning: list[dict] = field(default_factory=list)  # [{"ref", "text"}]
    obligations: list[Obligation] = field(default_factory=list)

    @property
    def primary_role(self) -> AIActRole:
        return AIActRole(next(r for r in ROLE_ORDER if r in self.roles))

    @property
    def label(self) -> str:
        return tier_label(self.tier, self.annex, self.area, self.gpai)


def tier_label(tier: RiskTier | str | None, annex: str = "", area: str = "", gpai: bool = False) -> str:
    tier = RiskTier(tier) if tier else RiskTier.UNCLASSIFIED
    if tier == RiskTier.HIGH:
        where = f"Annex III — {ANNEX_III_AREAS[area][1]}" if annex == "annex_iii" and area in ANNEX_III_AREAS \
            else "Annex I — product safety"
        text = f"High-risk ({where})"
    else:
        text = {RiskTier.PROHIBITED: "Prohibited (Art. 5)", RiskTier.TRANSPARENCY: "Transparency obligations "
                "(Art. 50)", RiskTier.GPAI: "General-purpose AI model", RiskTier.MINIMAL: "Minimal risk",
                RiskTier.UNCLASSIFIED: "Not classified"}[tier]
    return text + (" + general-purpose AI" if gpai and tier not in (RiskTier.GPAI, RiskTier.PROHIBITED) else "")


def _reason(ref: str, text: str) -> dict:
    return {"ref": ref, "text": text}


def classify(answers: Mapping) -> Outcome:
    """Complete answers → the outcome (ValueError naming the gaps when some are missing)."""
    gaps = missing(answers)
    if gaps:
        raise ValueError(f"unanswered: {', '.join(gaps)}")
    roles = [r for r in ROLE_ORDER if r in answers["roles"]]
    reasons = [_reason("Art.3", "Your organisation is " + " and ".join(
        f"{'an' if r == 'importer' else 'a'} {r}" for r in roles) + " of this system.")]
    gpai = answers["gpai"] == YES
    systemic = gpai and answers.get("gpai_systemic") == YES
    annex, area, derogation = "", "", False

    banned = [(key, point) for key, (point, _text) in PROHIBITED_PRACTICES.items() if answers[key] == YES]
    if banned:
        tier = RiskTier.PROHIBITED
        reasons += [_reason(f"Art.5(1)({point})", f"Prohibited practice: {_BANNED_SHORT[point]}.")
                    for _key, point in banned]
    else:
        reasons.append(_reason("Art.5", "None of the prohibited practices applies."))
        tier = None
        if answers["annex1"] == YES:
            tier, annex = RiskTier.HIGH, "annex_i"
            reasons.append(_reason("Art.6(1)", "It is (a safety component of) a product under Annex I legislation "
                                   "that needs a third-party conformity assessment: high-risk."))
        if answers["annex3"] == YES:
            area = answers["annex3_area"]
            point, name, _desc = ANNEX_III_AREAS[area]
            if answers["annex3_profiling"] == YES:
                reasons.append(_reason("Art.6(3)", "It profiles natural persons, so the Article 6(3) derogation "
                                       "cannot apply."))
            elif answers["annex3_derogation"] == YES:
                derogation = True
                reasons.append(_reason("Art.6(3)", f"Although used in an Annex III area ({name}), it only performs a "
                                       "narrow or preparatory task without materially influencing decisions: "
                                       "not high-risk. Document this assessment before placing it on the market."))
            if not derogation and tier is None:
                tier, annex = RiskTier.HIGH, "annex_iii"
                reasons.append(_reason(f"Annex III({point})", f"Used in an Annex III area — {name}: high-risk "
                                       "(Art. 6(2))."))
        if tier is None and answers["annex1"] == NO and answers["annex3"] == NO:
            reasons.append(_reason("Art.6", "Not a regulated product’s safety component (Annex I) and not used in an "
                                   "Annex III area: not high-risk."))
    transparency = [key for key in TRANSPARENCY if answers[key] == YES]
    if tier != RiskTier.PROHIBITED:
        reasons += [_reason(TRANSPARENCY[key][0], TRANSPARENCY[key][2] + ".") for key in transparency]
        if gpai:
            reasons.append(_reason("Art.51", "It is a general-purpose AI model" + (
                " with systemic risk (Art. 51(1))." if systemic else " without systemic risk.")))
        if tier is None:
            tier = RiskTier.TRANSPARENCY if transparency else RiskTier.GPAI if gpai else RiskTier.MINIMAL
        if tier == RiskTier.MINIMAL:
            reasons.append(_reason("Art.95", "No other obligation applies: minimal risk (voluntary codes of conduct, "
                                   "Art. 95)."))
    outcome = Outcome(tier=tier, roles=roles, annex=annex, area=area, gpai=gpai, systemic_risk=systemic,
                      derogation=derogation, reasoning=reasons)
    return Outcome(**(outcome.__dict__ | {"obligations": obligations_for(outcome, transparency)}))


_BANNED_SHORT = {
    "a": "subliminal, manipulative or deceptive techniques causing significant harm",
    "b": "exploiting vulnerabilities of age, disability or social or economic situation",
    "c": "social scoring leading to detrimental treatment",
    "d": "predicting criminal offences solely from profiling or personality traits",
    "e": "untargeted scraping of facial images for recognition databases",
    "f": "emotion recognition at the workplace or in education",
    "g": "biometric categorisation deducing sensitive characteristics",
    "h": "real-time remote biometric identification in public spaces for law enforcement",
}

_PROVIDER_HIGH_RISK = (
    Obligation("Art.9", "Risk management system", "Establish and run a risk management process across the "
               "system’s lifecycle."),
    Obligation("Art.10", "Data and data governance", "Training, validation and test data are relevant, "
               "representative and examined for bias."),
    Obligation("Art.11", "Technical documentation", "Draw up Annex IV documentation before placing it on the "
               "market."),
    Obligation("Art.12", "Record-keeping", "Automatic logging of events over the system’s lifetime."),
    Obligation("Art.13", "Transparency to deployers", "Instructions for use that let deployers interpret and use "
               "the output."),
    Obligation("Art.14", "Human oversight", "Designed so that people can oversee it, intervene and stop it."),
    Obligation("Art.15", "Accuracy, robustness and cybersecurity", "Declared accuracy; resilient to errors and "
               "attacks."),
    Obligation("Art.16", "Provider obligations", "Name and contact on the system, CE marking, EU declaration of "
               "conformity, corrective actions."),
    Obligation("Art.17", "Quality management system", "Documented policies, procedures and instructions."),
    Obligation("Art.43", "Conformity assessment", "Pass the conformity assessment before placing it on the market."),
    Obligation("Art.49", "Registration", "Register the system in the EU database before placing it on the market."),
    Obligation("Art.72", "Post-market monitoring", "Collect and analyse performance data once it is in use."),
    Obligation("Art.73", "Serious incident reporting", "Report serious incidents to the market surveillance "
               "authority."),
)


def obligations_for(outcome: Outcome, transparency: list[str] | None = None) -> list[Obligation]:
    """The obligations that follow from the tier and the roles (in article order within each group)."""
    roles, tier, result = set(outcome.roles), outcome.tier, []
    if tier == RiskTier.PROHIBITED:
        return [Obligation("Art.5", "Prohibited practice", "The system must not be placed on the market, put into "
                           "service or used in the EU. Stop or redesign it.")]
    result.append(Obligation("Art.4", "AI literacy", "Staff who operate or use the system have sufficient AI "
                             "literacy."))
    if tier == RiskTier.HIGH:
        if "provider" in roles:
            result += _PROVIDER_HIGH_RISK
        if "deployer" in roles:
            result.append(Obligation("Art.26", "Deployer obligations", "Use it according to the instructions, assign "
                                     "competent human oversight, monitor it, keep logs, inform affected workers."))
            fria = "required" if outcome.area == "essential_services" else "where applicable"
            result.append(Obligation("Art.27", "Fundamental rights impact assessment",
                                     f"Assess the impact on fundamental rights before first use ({fria}: public "
                                     "bodies, private entities providing public services, credit scoring and life "
                                     "or health insurance pricing)."))
        if "importer" in roles:
            result.append(Obligation("Art.23", "Importer obligations", "Verify the conformity assessment, "
                                     "documentation, CE marking and authorised representative before import."))
        if "distributor" in roles:
            result.append(Obligation("Art.24", "Distributor obligations", "Verify CE marking, declaration of "
                                     "conformity and instructions before making it available."))
    if outcome.derogation and "provider" in roles:
        result.append(Obligation("Art.6(4)", "Document the non-high-risk assessment", "Record why the Article 6(3) "
                                 "derogation applies and register the system (Art. 49(2))."))
    for key in transparency or []:
        ref = TRANSPARENCY[key][0]
        if key == "art50_emotion":
            if "deployer" in roles:
                result.append(Obligation(ref, "Inform people exposed", "Tell people exposed to emotion recognition or "
                                         "biometric categorisation that it is operating."))
        elif key == "art50_interacts":
            if "provider" in roles:
                result.append(Obligation(ref, "Disclose AI interaction", "Design it so people are informed they are "
                                         "interacting with an AI system."))
        elif "provider" in roles:
            result.append(Obligation(ref, "Mark synthetic content", "Mark outputs as artificially generated in a "
                                     "machine-readable way."))
        if key == "art50_synthetic" and "deployer" in roles:
            result.append(Obligation("Art.50(4)", "Disclose deepfakes", "Disclose that deepfake content or AI-written "
                                     "public-interest text is artificially generated."))
    if any(k in (transparency or []) for k in TRANSPARENCY) and not any(o.ref.startswith("Art.50") for o in result):
        result.append(Obligation("Art.50", "Transparency", "Support the provider’s transparency measures "
                                 "(Art. 50) when making the system available."))
    if outcome.gpai:
        if "provider" in roles:
            result.append(Obligation("Art.53", "General-purpose AI model obligations", "Technical documentation, "
                                     "information for downstream providers, copyright policy, training content "
                                     "summary."))
            if outcome.systemic_risk:
                result.append(Obligation("Art.55", "Systemic-risk obligations", "Model evaluation and adversarial "
                                         "testing, systemic risk mitigation, incident reporting, cybersecurity."))
        else:
            result.append(Obligation("Art.53", "Obtain the model provider’s documentation", "The model’s provider "
                                     "must give you the information of Art. 53(1)(b); keep it on file."))
    return result
