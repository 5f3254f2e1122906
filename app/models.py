"""Import every model module so the metadata (and Alembic) sees the whole schema."""

from app.approvals import models as approval_models  # noqa: F401
from app.compliance import models as compliance_models  # noqa: F401
from app.core import audit, tenancy  # noqa: F401
from app.governance import ai_models as ai_models  # noqa: F401
from app.governance import policies_models as policies_models  # noqa: F401
from app.governance import risks_models as risks_models  # noqa: F401
from app.identity import group_roles  # noqa: F401
from app.identity import models as identity_models  # noqa: F401
from app.identity import passkey_models as passkey_models  # noqa: F401
from app.identity.sso import models as sso_models  # noqa: F401
from app.scim import models as scim_models  # noqa: F401
from app.soc import models as soc_models  # noqa: F401
from app.soc.cases import models as case_models  # noqa: F401
from app.soc.sla import models as sla_models  # noqa: F401
