"""How the platform reaches Postgres: as the platform's own role, or as a tenant's role.

Embedded: the private Unix socket with local trust (security.md §1.6). ``BITIO_DATABASE_URL``:
the URL's role for the platform, and the same host without a password for tenant roles, which
the operator's pg_hba must admit without a secret a tenant can change (a private socket with
trust, or client certificates).
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg.conninfo import conninfo_to_dict, make_conninfo

__all__ = ["ClusterAccess"]


@dataclass(frozen=True)
class ClusterAccess:
    base: dict[str, str]  # host, port, user, password, ... of the platform's role
    maintenance_db: str = "postgres"
    catalog_db: str = "bitio_catalog"

    @classmethod
    def from_url(cls, url: str, catalog_db: str) -> ClusterAccess:
        params = {k: str(v) for k, v in conninfo_to_dict(url).items()}
        maintenance = params.pop("dbname", None) or "postgres"
        return cls(base=params, maintenance_db=maintenance, catalog_db=catalog_db)

    def platform(self, dbname: str | None = None) -> str:
        """conninfo for the platform's role; the maintenance database by default."""
        return make_conninfo("", **self.base, dbname=dbname or self.maintenance_db)

    def catalog(self) -> str:
        return self.platform(self.catalog_db)

    def tenant(self, dbname: str, role_name: str, group: str) -> str:
        """conninfo for a tenant role acting as one of the database's groups (its startup
        ``role``, which Postgres refuses unless the role is a member): no password, ever
        (security.md §1.6)."""
        params = {k: v for k, v in self.base.items() if k not in {"password", "passfile"}}
        params.update(
            user=role_name, dbname=dbname, application_name="bitio-api", options=f"-c role={group}"
        )
        return make_conninfo("", **params)
