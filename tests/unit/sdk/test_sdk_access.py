"""The exact requests of the access-model methods beyond 2.2.1: collaborators, read-only keys
and creating and deleting service accounts (docs/reference/sdk.md)."""

from collections.abc import Callable

import pytest

from bitdotio.sdk import BitdotioClient

from .conftest import BASE_URL, RecordingAdapter

COLLABORATOR = {"username": "bob", "role": "READER", "date_granted": "2024-01-01T00:00:00+00:00"}
ACCOUNT = {
    "id": "5d0c",
    "name": "etl-bot",
    "date_created": "2024-01-01T00:00:00+00:00",
    "role": "READER",
    "databases": [{"id": "d1", "name": "alice/mydb"}],
    "token_count": 0,
    "active_token_count": 0,
}


class TestCollaborators:
    def test_list(self, sdk: BitdotioClient, adapter: RecordingAdapter) -> None:
        adapter.reply(200, {"collaborators": [COLLABORATOR]})
        assert sdk.list_collaborators("alice/my db") == [COLLABORATOR]
        assert (adapter.last.method, adapter.last.url) == (
            "GET",
            f"{BASE_URL}/db/alice/my%20db/collaborators/",
        )
        assert adapter.bodies[-1] == b""

    def test_list_needs_its_key(self, sdk: BitdotioClient, adapter: RecordingAdapter) -> None:
        adapter.reply(200, {})
        with pytest.raises(KeyError):
            sdk.list_collaborators("alice/mydb")

    def test_set(self, sdk: BitdotioClient, adapter: RecordingAdapter) -> None:
        adapter.reply(200, COLLABORATOR)
        assert sdk.set_collaborator("alice/mydb", "bob", "READER") == COLLABORATOR
        assert (adapter.last.method, adapter.last.url) == (
            "PUT",
            f"{BASE_URL}/db/alice/mydb/collaborators/bob",
        )
        assert adapter.last.headers["Content-Type"] == "application/json"
        assert adapter.bodies[-1] == b'{"role": "READER"}'

    def test_set_with_keywords(self, sdk: BitdotioClient, adapter: RecordingAdapter) -> None:
        sdk.set_collaborator(db_name="alice/mydb", username="b/o b", role="ADMIN")
        assert adapter.last.url == f"{BASE_URL}/db/alice/mydb/collaborators/b%2Fo%20b"
        assert adapter.last_json == {"role": "ADMIN"}

    def test_remove(self, sdk: BitdotioClient, adapter: RecordingAdapter) -> None:
        adapter.reply(200, None)
        sdk.remove_collaborator("alice/mydb", "bob")
        assert (adapter.last.method, adapter.last.url) == (
            "DELETE",
            f"{BASE_URL}/db/alice/mydb/collaborators/bob",
        )
        assert adapter.bodies[-1] == b""

    @pytest.mark.parametrize(
        ("call", "message"),
        [
            (lambda sdk: sdk.list_collaborators("mydb"), r"^Invalid database name$"),
            (lambda sdk: sdk.set_collaborator("mydb", "bob", "READER"), r"^Invalid database"),
            (lambda sdk: sdk.set_collaborator("a/b", "", "READER"), r"^Invalid username$"),
            (lambda sdk: sdk.set_collaborator("a/b", None, "READER"), r"^Invalid username$"),
            (lambda sdk: sdk.set_collaborator("a/b", "bob", "reader"), r"^Invalid role: "),
            (lambda sdk: sdk.set_collaborator("a/b", "bob", "owner"), r"^Invalid role: "),
            (lambda sdk: sdk.remove_collaborator("mydb", "bob"), r"^Invalid database name$"),
            (lambda sdk: sdk.remove_collaborator("a/b", ""), r"^Invalid username$"),
        ],
    )
    def test_arguments_are_checked_before_io(
        self,
        sdk: BitdotioClient,
        adapter: RecordingAdapter,
        call: Callable[[BitdotioClient], object],
        message: str,
    ) -> None:
        with pytest.raises(ValueError, match=message):
            call(sdk)
        assert adapter.requests == []


class TestKeys:
    @pytest.mark.parametrize(
        ("args", "kwargs", "body"),
        [
            ((), {"read_only": True}, b'{"read_only": true}'),
            ((60,), {"read_only": True}, b'{"expires_in_s": 60, "read_only": true}'),
            ((60,), {"read_only": False}, b'{"expires_in_s": 60}'),
            ((), {"expires_in_s": 60}, b'{"expires_in_s": 60}'),
        ],
    )
    def test_create_key_bodies(
        self,
        sdk: BitdotioClient,
        adapter: RecordingAdapter,
        args: tuple,
        kwargs: dict,
        body: bytes,
    ) -> None:
        adapter.reply(201, {"username": "alice", "api_key": "v2_new"})
        sdk.create_key(*args, **kwargs)
        assert (adapter.last.method, adapter.last.url) == ("POST", f"{BASE_URL}/api-key/")
        assert adapter.last.headers["Content-Type"] == "application/json"
        assert adapter.bodies[-1] == body

    @pytest.mark.parametrize("kwargs", [{}, {"read_only": False}, {"expires_in_s": None}])
    def test_without_options_no_body_is_sent_as_in_2_2_1(
        self, sdk: BitdotioClient, adapter: RecordingAdapter, kwargs: dict
    ) -> None:
        sdk.create_key(**kwargs)
        assert adapter.last.headers["Content-Length"] == "0"
        assert "Content-Type" not in adapter.last.headers
        assert adapter.bodies[-1] == b""

    def test_read_only_is_keyword_only(self, sdk: BitdotioClient) -> None:
        with pytest.raises(TypeError):
            sdk.create_key(None, True)


class TestServiceAccounts:
    def test_create(self, sdk: BitdotioClient, adapter: RecordingAdapter) -> None:
        adapter.reply(201, ACCOUNT)
        assert sdk.create_service_account("etl-bot", "READER", ["alice/mydb"]) == ACCOUNT
        assert (adapter.last.method, adapter.last.url) == ("POST", f"{BASE_URL}/service-account/")
        assert adapter.last.headers["Content-Type"] == "application/json"
        assert adapter.bodies[-1] == (
            b'{"name": "etl-bot", "role": "READER", "databases": ["alice/mydb"]}'
        )

    def test_create_with_keywords_and_a_tuple(
        self, sdk: BitdotioClient, adapter: RecordingAdapter
    ) -> None:
        sdk.create_service_account(name="bot", role="WRITER", databases=("a/one", "a/two"))
        assert adapter.last_json == {
            "name": "bot",
            "role": "WRITER",
            "databases": ["a/one", "a/two"],
        }

    @pytest.mark.parametrize(
        ("role", "databases", "message"),
        [
            ("OWNER", ["a/b"], r"^Invalid role: must be ADMIN, WRITER or READER$"),
            ("READER", "a/b", r"^databases must be a list of database names$"),
            ("READER", None, r"^databases must be a list of database names$"),
            ("READER", [], r"^databases must name at least one database$"),
            ("READER", ["a/b", "mydb"], r"^Invalid database name$"),
        ],
    )
    def test_create_checks_before_io(
        self,
        sdk: BitdotioClient,
        adapter: RecordingAdapter,
        role: str,
        databases: object,
        message: str,
    ) -> None:
        with pytest.raises(ValueError, match=message):
            sdk.create_service_account("bot", role, databases)
        assert adapter.requests == []

    def test_delete(self, sdk: BitdotioClient, adapter: RecordingAdapter) -> None:
        adapter.reply(200, None)
        sdk.delete_service_account("5d0c")
        assert (adapter.last.method, adapter.last.url) == (
            "DELETE",
            f"{BASE_URL}/service-account/5d0c",
        )
        assert adapter.bodies[-1] == b""
