"""The SDK object's constructor and the exact requests its methods send (contract §3, §5)."""

import io

import pytest

from bitdotio import ApiError, bitdotio
from bitdotio._version import __version__
from bitdotio.sdk import BitdotioClient
from bitdotio.sdk._http import CONNECT_TIMEOUT_S

from .conftest import BASE_URL, TOKEN, RecordingAdapter


class TestConstructor:
    def test_repr(self) -> None:
        assert repr(bitdotio(TOKEN)) == "<bitdotio SDK object: v2>"

    def test_token_is_checked_first(self) -> None:
        with pytest.raises(ValueError, match=r"^Invalid access token$"):
            bitdotio("bad", min_conn=-1, max_conn=-1)

    def test_negative_bounds_are_checked_before_order(self) -> None:
        with pytest.raises(ValueError, match="greater than or equal to zero"):
            bitdotio(TOKEN, min_conn=-1, max_conn=-2)

    def test_min_below_max(self) -> None:
        with pytest.raises(ValueError, match=r"^min_conn must be strictly less than max_conn$"):
            bitdotio(TOKEN, "v2beta", 3, 3)

    def test_api_version_is_the_second_positional_parameter(self) -> None:
        client = bitdotio(TOKEN, "http://127.0.0.1:1234/v2beta", 0, 5)
        assert client._api_client.base_url == "http://127.0.0.1:1234/v2beta"

    def test_settings_give_the_defaults(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("BITIO_API_URL", "http://env-host:81/v2beta")
        monkeypatch.setenv("BITIO_DB_HOST", "db.env")
        monkeypatch.setenv("BITIO_DB_PORT", "6543")
        client = bitdotio(TOKEN)
        assert client._api_client.base_url == "http://env-host:81/v2beta"
        assert (client._db_host, client._db_port) == ("db.env", 6543)

    def test_keywords_win_over_settings(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("BITIO_API_URL", "http://env-host:81/v2beta")
        client = bitdotio(TOKEN, api_url="http://kw:1/v2beta", db_host="h", db_port=1)
        assert client._api_client.base_url == "http://kw:1/v2beta"
        assert client._dsn("a/b") == (
            "dbname='a/b' user='api_user' password='v2_testkey_abc123' host='h' port='1' "
            "sslmode='require'"
        )

    def test_context_manager_closes(self) -> None:
        with bitdotio(TOKEN) as client:
            assert isinstance(client, BitdotioClient)


class TestRequests:
    def test_common_headers_and_timeout(
        self, sdk: BitdotioClient, adapter: RecordingAdapter
    ) -> None:
        adapter.reply(200, {"databases": []})
        assert sdk.list_databases() == []
        request = adapter.last
        assert (request.method, request.url) == ("GET", f"{BASE_URL}/db/")
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["Accept"] == "application/json"
        assert request.headers["User-Agent"] == f"python-bitdotio-sdk/{__version__}"
        assert "Content-Type" not in request.headers
        assert adapter.timeouts[-1] == (CONNECT_TIMEOUT_S, 300.0)

    def test_timeout_keyword_sets_the_read_timeout(self, adapter: RecordingAdapter) -> None:
        client = bitdotio(TOKEN, api_url=BASE_URL, timeout=2.5)
        client._api_client._session.mount("http://", adapter)
        client.create_key()
        assert adapter.timeouts[-1] == (CONNECT_TIMEOUT_S, 2.5)

    @pytest.mark.parametrize(
        ("kwargs", "body"),
        [
            (
                {"is_private": False, "storage_limit_bytes": 1000000},
                b'{"name": "mydb", "is_private": false, "storage_limit_bytes": 1000000}',
            ),
            ({}, b'{"name": "mydb", "is_private": true}'),
            (
                {"storage_limit_bytes": 0},
                b'{"name": "mydb", "is_private": true, "storage_limit_bytes": 0}',
            ),
            ({"is_private": None}, b'{"name": "mydb", "is_private": null}'),
        ],
    )
    def test_create_database(
        self, sdk: BitdotioClient, adapter: RecordingAdapter, kwargs: dict, body: bytes
    ) -> None:
        adapter.reply(201, {"name": "alice/mydb"})
        assert sdk.create_database("mydb", **kwargs) == {"name": "alice/mydb"}
        assert (adapter.last.method, adapter.last.url) == ("POST", f"{BASE_URL}/db/")
        assert adapter.last.headers["Content-Type"] == "application/json"
        assert adapter.bodies[-1] == body

    def test_create_database_checks_the_name(
        self, sdk: BitdotioClient, adapter: RecordingAdapter
    ) -> None:
        with pytest.raises(ValueError, match=r"^Invalid database name$"):
            sdk.create_database("")
        assert adapter.requests == []

    def test_get_and_delete_database(self, sdk: BitdotioClient, adapter: RecordingAdapter) -> None:
        sdk.get_database("alice/my db")
        assert (adapter.last.method, adapter.last.url) == ("GET", f"{BASE_URL}/db/alice/my%20db")
        sdk.delete_database("alice/mydb")
        assert (adapter.last.method, adapter.last.url) == ("DELETE", f"{BASE_URL}/db/alice/mydb")
        assert adapter.last.headers["Content-Length"] == "0"
        assert adapter.bodies[-1] == b""

    @pytest.mark.parametrize(
        ("kwargs", "body"),
        [
            ({"name": "newname", "is_private": True}, b'{"name": "newname", "is_private": true}'),
            ({}, b"{}"),
            ({"is_private": "false"}, b'{"is_private": "false"}'),
            ({"storage_limit_bytes": 5}, b'{"storage_limit_bytes": 5}'),
        ],
    )
    def test_update_database(
        self, sdk: BitdotioClient, adapter: RecordingAdapter, kwargs: dict, body: bytes
    ) -> None:
        sdk.update_database("alice/mydb", **kwargs)
        assert (adapter.last.method, adapter.last.url) == ("PATCH", f"{BASE_URL}/db/alice/mydb")
        assert adapter.bodies[-1] == body

    @pytest.mark.parametrize("method", ["get_database", "update_database", "delete_database"])
    def test_database_name_is_checked_before_io(
        self, sdk: BitdotioClient, adapter: RecordingAdapter, method: str
    ) -> None:
        with pytest.raises(ValueError, match=r"^Invalid database name$"):
            getattr(sdk, method)("mydb")
        assert adapter.requests == []

    @pytest.mark.parametrize(
        ("data_format", "url"),
        [
            (None, f"{BASE_URL}/query"),
            ("objects", f"{BASE_URL}/query?data_format=objects"),
            ("rows", f"{BASE_URL}/query?data_format=rows"),
            ("", f"{BASE_URL}/query?data_format="),
        ],
    )
    def test_query(
        self, sdk: BitdotioClient, adapter: RecordingAdapter, data_format: str | None, url: str
    ) -> None:
        result = {"query_string": "SELECT 1 AS x", "metadata": {"x": "integer"}, "data": [[1]]}
        adapter.reply(200, result)
        assert sdk.query("alice/mydb", "SELECT 'é' AS x", data_format=data_format) == result
        assert (adapter.last.method, adapter.last.url) == ("POST", url)
        assert adapter.bodies[-1] == (
            b'{"database_name": "alice/mydb", "query_string": "SELECT \'\\u00e9\' AS x"}'
        )

    def test_query_checks_the_database_name(self, sdk: BitdotioClient) -> None:
        with pytest.raises(ValueError, match=r"^Invalid database name$"):
            sdk.query("mydb", "SELECT 1")

    def test_import_from_a_file_is_multipart(
        self, sdk: BitdotioClient, adapter: RecordingAdapter
    ) -> None:
        data = b"name,pop\r\nParis,2100000\r\n"
        sdk.create_import_job(
            "alice/mydb", "city", schema_name="s1", infer_header="first_row", file=io.BytesIO(data)
        )
        request = adapter.last
        assert (request.method, request.url) == ("POST", f"{BASE_URL}/db/alice/mydb/import/")
        content_type = request.headers["Content-Type"]
        boundary = content_type.removeprefix("multipart/form-data; boundary=")
        assert len(boundary) == 32
        expected = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="table_name"\r\n\r\ncity\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="schema_name"\r\n\r\ns1\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="infer_header"\r\n\r\n'
            f"first_row\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="city"\r\n'
            f"\r\n{data.decode()}\r\n--{boundary}--\r\n"
        ).encode()
        assert adapter.bodies[-1] == expected
        assert request.headers["Content-Length"] == str(len(expected))

    def test_import_from_a_url_is_urlencoded(
        self, sdk: BitdotioClient, adapter: RecordingAdapter
    ) -> None:
        sdk.create_import_job("alice/mydb", "city", file_url="https://example.org/c.csv")
        assert adapter.last.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert adapter.bodies[-1] == b"table_name=city&file_url=https%3A%2F%2Fexample.org%2Fc.csv"

    @pytest.mark.parametrize("kwargs", [{}, {"file": io.BytesIO(b"x"), "file_url": "http://x"}])
    def test_import_needs_file_xor_url(self, sdk: BitdotioClient, kwargs: dict) -> None:
        with pytest.raises(ValueError, match=r"^Must provide file XOR file_url$"):
            sdk.create_import_job("alice/mydb", "city", **kwargs)

    def test_import_rejects_a_text_file_before_sending(
        self, sdk: BitdotioClient, adapter: RecordingAdapter
    ) -> None:
        with pytest.raises(TypeError, match="bytes-like object is required"):
            sdk.create_import_job("alice/mydb", "city", file=io.StringIO("a,b"))
        assert adapter.requests == []

    @pytest.mark.parametrize(
        ("kwargs", "body"),
        [
            ({"query_string": "SELECT 1"}, b'{"query_string": "SELECT 1", "export_format": "csv"}'),
            (
                {"table_name": "city", "file_name": "c.parquet", "export_format": "parquet"},
                b'{"table_name": "city", "schema_name": "public", "file_name": "c.parquet", '
                b'"export_format": "parquet"}',
            ),
            (
                {"table_name": "city", "schema_name": "s1"},
                b'{"table_name": "city", "schema_name": "s1", "export_format": "csv"}',
            ),
            (  # beyond 2.2.1: sent last, and only when given
                {"query_string": "SELECT 1", "escape_formulas": False},
                b'{"query_string": "SELECT 1", "export_format": "csv", "escape_formulas": false}',
            ),
        ],
    )
    def test_export(
        self, sdk: BitdotioClient, adapter: RecordingAdapter, kwargs: dict, body: bytes
    ) -> None:
        sdk.create_export_job("alice/mydb", **kwargs)
        assert adapter.last.url == f"{BASE_URL}/db/alice/mydb/export/"
        assert adapter.bodies[-1] == body

    @pytest.mark.parametrize(
        "kwargs",
        [{}, {"query_string": "", "table_name": ""}, {"query_string": "q", "table_name": "t"}],
    )
    def test_export_needs_query_xor_table(self, sdk: BitdotioClient, kwargs: dict) -> None:
        with pytest.raises(ValueError, match=r"^Must provide query_string XOR table_name$"):
            sdk.create_export_job("alice/mydb", **kwargs)

    def test_job_status(self, sdk: BitdotioClient, adapter: RecordingAdapter) -> None:
        sdk.get_import_job("7e1f")
        assert adapter.last.url == f"{BASE_URL}/import/7e1f"
        sdk.get_export_job("a b")
        assert adapter.last.url == f"{BASE_URL}/export/a%20b"

    def test_service_accounts(self, sdk: BitdotioClient, adapter: RecordingAdapter) -> None:
        adapter.reply(200, {"service_accounts": [{"id": "sa1"}]})
        assert sdk.list_service_accounts() == [{"id": "sa1"}]
        assert adapter.last.url == f"{BASE_URL}/service-account/"
        sdk.get_service_account("sa1")
        assert adapter.last.url == f"{BASE_URL}/service-account/sa1"
        sdk.create_service_account_key("sa1")
        assert (adapter.last.method, adapter.last.url) == (
            "POST",
            f"{BASE_URL}/service-account/sa1/api-key/",
        )
        assert "Content-Type" not in adapter.last.headers
        sdk.revoke_service_account_keys("sa1")
        assert adapter.last.method == "DELETE"

    def test_keys(self, sdk: BitdotioClient, adapter: RecordingAdapter) -> None:
        adapter.reply(201, {"username": "alice", "api_key": "v2_new"})
        assert sdk.create_key() == {"username": "alice", "api_key": "v2_new"}
        assert (adapter.last.method, adapter.last.url) == ("POST", f"{BASE_URL}/api-key/")
        assert adapter.last.headers["Content-Length"] == "0"
        assert "Content-Type" not in adapter.last.headers
        adapter.reply(200, None)
        assert sdk.revoke_keys() is None
        assert (adapter.last.method, adapter.last.url) == ("DELETE", f"{BASE_URL}/api-key/")
        sdk.revoke_keys("v2_other_key")
        assert adapter.last.url == f"{BASE_URL}/api-key/?api_key=v2_other_key"

    def test_error_statuses_raise_api_error(
        self, sdk: BitdotioClient, adapter: RecordingAdapter
    ) -> None:
        adapter.reply(401, {"detail": "Invalid API key", "uuid": "u"})
        with pytest.raises(ApiError) as excinfo:
            sdk.list_databases()
        assert excinfo.value.args == (401, {"detail": "Invalid API key", "uuid": "u"})
        adapter.reply(502, raw=b"Bad Gateway")
        with pytest.raises(ApiError) as excinfo:
            sdk.get_database("alice/mydb")
        assert excinfo.value.args == (502, "Bad Gateway")
