import re

PASSWORD = "correct-horse-battery"


def link_in(body: str) -> str:
    """The path of the first portal link in an email body."""
    match = re.search(r"http://testserver(/\S+)", body)
    assert match is not None, body
    return match.group(1)
