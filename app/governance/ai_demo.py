"""Demo AI systems for `vigil seed-demo`: twelve systems across the EU AI Act tiers, each classified through
the same questionnaire logic, and one high-risk system awaiting its go-live approval by the demo admin."""

from __future__ import annotations

import sqlalchemy as sa

from app.core.db import db
from app.core.tenancy import Tenant, tenant_context
from app.governance import ai_classification as q
from app.governance import ai_services as services
from app.governance.ai_models import AISystem
from app.identity.auth import member_actor
from app.identity.models import Membership, User


def _answers(**overrides) -> dict:
    base = {"roles": ["deployer"], "gpai": "no", "annex1": "no", "annex3": "no"}
    base |= {key: "no" for key in q.PROHIBITED_PRACTICES} | {key: "no" for key in q.TRANSPARENCY}
    return base | overrides


def _annex3(area: str, *, profiling: bool = True, derogation: bool = False, **overrides) -> dict:
    return _answers(annex3="yes", annex3_area=area, annex3_profiling="yes" if profiling else "no",
                    annex3_derogation="yes" if derogation else "no", **overrides)


# (name, kind, purpose, provider, models, status, data categories, personal, special, affected, oversight, answers)
SYSTEMS = [
    ("CV screening assistant", "system", "Ranks incoming job applications against the role profile and proposes a "
     "shortlist to recruiters.", "In-house", ["cv-ranker v3"], "pilot", ["CVs", "work history", "education"], True,
     False, "Job applicants (about 4,000 a year)", "A recruiter reviews every shortlist and sees the ranking "
     "reasons; candidates can ask for a human review.", _annex3("employment", roles=["provider", "deployer"])),
    ("Customer support chatbot", "system", "Answers customers’ product questions on the website and hands over to "
     "an agent on request.", "Helpwise", ["gpt-4o-mini"], "live", ["support tickets", "contact details"], True, False,
     "Customers using web chat", "Agents monitor conversations and take over any chat; weekly transcript sampling.",
     _answers(art50_interacts="yes", art50_synthetic="yes")),
    ("Mail spam filter", "model", "Scores inbound e-mail for spam and phishing and quarantines the worst.", "Mailguard",
     ["mg-spam 2025"], "live", ["e-mail metadata", "message bodies"], True, False, "All staff",
     "Users release quarantined mail; SOC reviews false positives weekly.", _answers()),
    ("Acme Assist foundation model", "model", "Our fine-tuned large language model offered to customers through the "
     "API for drafting and summarising.", "In-house", ["acme-assist-70b"], "live", ["licensed text corpora"], False,
     False, "API customers and their end users", "Red-team evaluations each release; usage policy enforcement.",
     _answers(roles=["provider"], gpai="yes", gpai_systemic="no")),
    ("Credit limit scoring", "model", "Scores small-business customers’ creditworthiness to set trade credit "
     "limits.", "ScoreCo", ["scoreco-sme v7"], "pilot", ["financial statements", "payment history"], True, False,
     "Small-business customers", "Credit analysts approve every limit above €10,000.",
     _annex3("essential_services")),
    ("Badge-photo face match", "system", "Matches a visitor’s face to the photo on their badge at the lobby "
     "turnstile (one-to-one verification).", "SecureGate", ["sg-verify 4"], "planned", ["face images"], True, True,
     "Staff and visitors", "Guards handle every mismatch in person.",
     _annex3("biometrics", profiling=False, derogation=True)),
    ("Exam proctoring monitor", "system", "Flags possible cheating in remote certification exams for a human "
     "invigilator.", "ProctorNet", ["pn-vision"], "in_development", ["webcam video", "screen activity"], True, True,
     "Certification candidates", "An invigilator decides on every flag; candidates can appeal.",
     _annex3("education")),
    ("Meeting-room mood analytics", "system", "Vendor pitch: infer employees’ emotions from meeting-room cameras to "
     "measure engagement.", "MoodMetrics", ["mm-affect"], "planned", ["video"], True, True, "Employees",
     "None — evaluation stopped.", _answers(art5_f="yes")),
    ("Marketing image generator", "system", "Generates campaign images and product mock-ups for the marketing team.",
     "Imagify", ["imagify-xl"], "live", ["prompts", "brand assets"], False, False, "Public seeing our campaigns",
     "Brand team approves every image; AI-generated label added.", _answers(art50_synthetic="yes")),
    ("Alert triage ranker", "model", "Orders SOC alerts by likely severity so analysts see the worst first.",
     "In-house", ["triage-gbm 2"], "live", ["security telemetry"], True, False, "SOC analysts",
     "Analysts see every alert; ranking never closes one.", _answers(roles=["provider", "deployer"])),
    ("Code review assistant", "agent", "Suggests fixes in pull requests and explains failing tests.", "DevPilot",
     ["devpilot-large"], "pilot", ["source code"], False, False, "Engineers",
     "Every suggestion needs a human approval to merge.", _answers(gpai="yes", gpai_systemic="yes",
                                                                    art50_interacts="yes")),
    ("Invoice data extraction", "model", "Reads supplier invoices and fills the accounts-payable form.", "DocuRead",
     ["docuread-3"], "live", ["invoices"], True, False, "Finance team", "Clerks confirm each extracted invoice.",
     None),  # not classified yet: shows the empty state and "Classify"
]
AWAITING = "Exam proctoring monitor"  # high-risk, waiting for the admin's go-live approval


def seed_ai_systems(tenant: Tenant) -> list[str]:
    """Add the demo AI systems, unless the tenant has some already."""
    with tenant_context(tenant):
        if db.session.scalar(sa.select(AISystem.id).limit(1)):
            return []
        members = {m.user.email: m for m in db.session.scalars(
            sa.select(Membership).join(Membership.user).where(
                User.email.in_(("admin@acme.test", "compliance@acme.test", "analyst@acme.test"))))}
        cora = member_actor(members["compliance@acme.test"])
        owners = {"compliance": members["compliance@acme.test"].user.public_id,
                  "analyst": members.get("analyst@acme.test", members["compliance@acme.test"]).user.public_id}
        for (name, kind, purpose, provider, models, status, data, personal, special, affected, oversight,
             answers) in SYSTEMS:
            system = services.create_system(
                actor=cora, name=name, kind=kind, purpose=purpose, provider=provider, models=models,
                deployment_status="pilot" if status == "live" else status, data_categories=data,
                personal_data=personal, special_category_data=special, affected_users=affected,
                human_oversight=oversight, owner=owners["analyst" if "SOC" in oversight else "compliance"])
            if answers is None:
                continue
            services.complete_classification(system, actor=cora, answers=answers)
            if status == "live":
                services.request_go_live(system, actor=cora)  # none of the live ones is high-risk
        proctoring = db.session.scalar(sa.select(AISystem).where(AISystem.name == AWAITING))
        services.request_go_live(proctoring, actor=cora, note="Pilot with 200 candidates passed; FRIA attached.")
    return [f"AI governance demo: {len(SYSTEMS)} AI systems across EU AI Act tiers; “{AWAITING}” awaits the "
            "admin’s go-live approval."]
