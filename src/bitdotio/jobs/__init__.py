"""Background jobs on procrastinate (a Postgres-backed queue in the catalog database).

``queue`` builds the procrastinate app and its schema; ``tasks`` holds what workers run;
``imports`` runs one import job; ``load`` is the tenant transaction that creates and fills the
tables; ``worker`` runs a worker inside ``bit serve`` or alone (``bit serve --only worker``).
"""
