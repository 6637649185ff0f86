"""Every actor module, for `dramatiq actors.context:setup actors.worker`.

Importing this module declares every actor on the global broker, so it must be imported
after `actors.broker.setup_broker()` (which `actors.context.setup()` runs). A new actor
module is added to the import line below.
"""

from __future__ import annotations

from actors.broker import installed_broker

installed_broker()  # refuse Dramatiq's silent fallback broker before declaring actors

from actors import analysis, bootstrap, delivery, imports, notifications  # noqa: E402,F401
