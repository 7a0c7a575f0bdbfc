"""Create the schema and the fixed identities of the calibration server.

Runs inside the server virtualenv with RUCIO_CONFIG pointing at the generated rucio.cfg
(tools/rucio/setup.sh does both). Everything it creates is fixed by name so two setups
answer the same requests with the same bodies:

- root (userpass root/secret), the bootstrap superuser;
- harness (userpass harness/harness-secret), admin attribute: may add and delete replicas
  on every RSE, as the conformance harness must;
- nobody (userpass nobody/nobody-secret), no attributes: the unprivileged caller of RUC-16;
- scopes `test` and `user.harness` owned by harness;
- one deterministic DISK RSE per simulated cluster (EAST, WEST by default), plus the
  calibration RSEs DOWN (availability_write and availability_delete off), NODELETE
  (availability_delete off), NOREAD (availability_read off), VOLATILE (volatile) and
  NONDET (non-deterministic).

Every RSE gets the same three protocols so PFNs are predictable:
  https://<rse lower>.replisim.test:443/rucio/<scope>/<name>   (wan+lan, priority 1)
  root://<rse lower>.replisim.test:1094//rucio/<scope>/<name>  (wan+lan, priority 2)
  srm://<rse lower>.replisim.test:443/rucio/<scope>/<name>     (wan+lan, priority 3)
with lfn2pfn_algorithm=identity (path = scope/name; user.x / group.x scopes become user/x).
"""

import os
import sys

from rucio.common.types import InternalAccount, InternalScope
from rucio.core.account import add_account, add_account_attribute
from rucio.core.identity import add_account_identity
from rucio.core.rse import add_protocol, add_rse, add_rse_attribute
from rucio.core.scope import add_scope
from rucio.db.sqla.constants import AccountType, DatabaseOperationType, IdentityType
from rucio.db.sqla.session import db_session
from rucio.db.sqla.util import build_database, create_base_vo, create_root_account

EMAIL = "harness@replisim.test"

ACCOUNTS = [
    # (account, password, admin)
    ("harness", "harness-secret", True),
    ("nobody", "nobody-secret", False),
]

SCOPES = ["test", "user.harness"]


def protocols(rse: str) -> list:
    """The two protocol rows of an RSE; fixed so the PFNs are known in advance."""
    host = rse.lower() + ".replisim.test"
    both = {"read": 1, "write": 1, "delete": 1}
    wan = dict(both, third_party_copy_read=1, third_party_copy_write=1)
    return [
        {
            "scheme": "https",
            "hostname": host,
            "port": 443,
            "prefix": "/rucio/",
            "impl": "rucio.rse.protocols.webdav.Default",
            "domains": {"lan": both, "wan": wan},
        },
        {
            "scheme": "root",
            "hostname": host,
            "port": 1094,
            "prefix": "//rucio/",
            "impl": "rucio.rse.protocols.xrootd.Default",
            "domains": {
                "lan": {"read": 2, "write": 2, "delete": 2},
                "wan": {
                    "read": 2,
                    "write": 2,
                    "delete": 2,
                    "third_party_copy_read": 2,
                    "third_party_copy_write": 2,
                },
            },
        },
        {
            # The 41.5.1 server maps PFNs back to DIDs on a named RSE (POST /replicas/dids
            # with "rse", which the client always sends) through its "srm" protocol only.
            # Same host, port and prefix as https, so https PFNs parse against it.
            "scheme": "srm",
            "hostname": host,
            "port": 443,
            "prefix": "/rucio/",
            "impl": "rucio.rse.protocols.webdav.Default",
            "extended_attributes": {"web_service_path": ""},
            "domains": {
                "lan": {"read": 3, "write": 3, "delete": 3},
                "wan": {"read": 3, "write": 3, "delete": 3},
            },
        },
    ]


def make_rse(session, name: str, deterministic: bool = True, volatile: bool = False, **flags) -> None:
    """Adds one RSE with its protocols, attributes and availability flags."""
    rse_id = add_rse(name, deterministic=deterministic, volatile=volatile, session=session, **flags)
    for proto in protocols(name):
        add_protocol(rse_id, proto, session=session)
    add_rse_attribute(rse_id, "lfn2pfn_algorithm", "identity", session=session)
    add_rse_attribute(rse_id, "cluster", name.lower(), session=session)
    # "site" lets a client_location {"site": NAME} make this RSE LAN for that client.
    add_rse_attribute(rse_id, "site", name, session=session)


def main() -> int:
    clusters = [c for c in os.environ.get("RUCIO_RSES", "EAST WEST").split() if c]
    build_database()
    create_base_vo()
    create_root_account()
    with db_session(DatabaseOperationType.WRITE) as session:
        for account, password, admin in ACCOUNTS:
            acc = InternalAccount(account)
            add_account(acc, AccountType.USER, EMAIL, session=session)
            add_account_identity(account, IdentityType.USERPASS, acc, EMAIL, password=password, session=session)
            if admin:
                add_account_attribute(acc, "admin", True, session=session)
        for scope in SCOPES:
            add_scope(InternalScope(scope), InternalAccount("harness"), session=session)
        for cluster in clusters:
            make_rse(session, cluster)
        make_rse(session, "DOWN", availability_write=False, availability_delete=False)
        make_rse(session, "NODELETE", availability_delete=False)
        make_rse(session, "NOREAD", availability_read=False)
        make_rse(session, "VOLATILE", volatile=True)
        make_rse(session, "NONDET", deterministic=False)
    print("bootstrapped: accounts root harness nobody; scopes %s; RSEs %s DOWN NODELETE NOREAD VOLATILE NONDET"
          % (" ".join(SCOPES), " ".join(clusters)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
