"""The client's reading of the job event stream: what the server writes, byte for byte."""

from litestar.response.sse import ServerSentEventMessage

from labelwise_client.jobs import sse_messages


def _lines(*messages: ServerSentEventMessage) -> list[str]:
    text = b"".join(m.encode() for m in messages).decode()
    return text.replace("\r\n", "\n").split("\n")


def test_a_keep_alive_after_a_job_message_is_not_read_as_a_job_message():
    lines = _lines(
        ServerSentEventMessage(data='{"id": 1, "state": "running"}', event="job"),
        ServerSentEventMessage(comment="keep-alive"),  # ": keep-alive" and an empty "data:" line
        ServerSentEventMessage(data='{"id": 1, "state": "succeeded"}', event="end"),
    )
    messages = list(sse_messages(lines))
    assert ("job", '{"id": 1, "state": "running"}') in messages
    assert ("end", '{"id": 1, "state": "succeeded"}') in messages
    assert [event for event, _ in messages if event in ("job", "end")] == ["job", "end"]
    assert all(data for event, data in messages if event in ("job", "end"))


def test_multi_line_data_and_carriage_returns_are_joined_as_the_standard_says():
    lines = ["event: log\r", "data: first\r", "data: second\r", "\r", "data:no space", ""]
    assert list(sse_messages(lines)) == [("log", "first\nsecond"), ("message", "no space")]
