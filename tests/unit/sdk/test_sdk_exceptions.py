"""ApiError keeps 2.2.1's args and text (contract §5.4)."""

import pickle

from bitdotio import ApiError


def test_args_and_attributes() -> None:
    body = {"detail": "Invalid API key", "uuid": "u"}
    error = ApiError(401, body)
    assert isinstance(error, Exception)
    assert error.args == (401, body)
    assert error.status_code == 401
    assert error.data is body


def test_str_uses_the_repr_of_data() -> None:
    body = {"status_code": 404, "message": "Database not found", "error": {"type": "NotFound"}}
    assert str(ApiError(404, body)) == (
        "ApiError status_code=404 data={'status_code': 404, 'message': 'Database not found', "
        "'error': {'type': 'NotFound'}}"
    )
    assert str(ApiError(502, "<html>")) == "ApiError status_code=502 data='<html>'"


def test_pickles() -> None:
    error = pickle.loads(pickle.dumps(ApiError(400, {"a": 1})))
    assert (error.status_code, error.data) == (400, {"a": 1})
