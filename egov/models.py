"""Imports every module that defines tables, so Alembic and tests see the whole schema."""

import ca.models  # noqa: F401
import egov.audit  # noqa: F401
import signing.desk_models  # noqa: F401
import signing.remote.models  # noqa: F401
