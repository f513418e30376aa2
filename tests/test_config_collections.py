"""[[collections]] and [orcid] in config.toml: what loads, and one line for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import COLLECTION_KINDS, load_config
from monitor.errors import ConfigError
from monitor.resolvers import RESOLVERS


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_every_kind_loads_in_its_canonical_form(tmp_path):
    config = load_config(write(tmp_path, """
[[collections]]
name = "ada"
label = "Ada's lab"
orcid = "https://orcid.org/0000-0002-1825-0097"
refresh_days = 7
recipients = ["head@example.org"]

[[collections]]
name = "author"
openalex_author = "https://openalex.org/A5017898742"
from_year = 2020

[[collections]]
name = "uni"
ror = "https://ror.org/02nr0ka47"

[[collections]]
name = "bib"
file = "lists/works.bib"

[[collections]]
name = "list"
works = ["doi:10.1000/A.1", "https://doi.org/10.1000/b.2"]
"""), environ={})
    ada, author, uni, bib, listed = config.collections
    assert (ada.kind, ada.identifier, ada.refresh_days, ada.recipients, ada.title) == (
        "orcid", "0000-0002-1825-0097", 7.0, ("head@example.org",), "Ada's lab")
    assert (author.identifier, author.from_year, author.definition) == (
        "A5017898742", 2020, "openalex_author: A5017898742 from 2020")
    assert uni.identifier == "02nr0ka47" and uni.refresh_days == 0
    assert bib.path == tmp_path / "lists/works.bib"
    assert listed.dois == ("10.1000/a.1", "10.1000/b.2")
    assert config.works == ()  # collections alone are something to track
    assert config.orcid.base_url == "https://pub.orcid.org/v3.0"


def test_the_resolver_registry_covers_every_kind():
    assert set(RESOLVERS) == set(COLLECTION_KINDS)


C = '[[collections]]\nname = "x"\n'


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "tracks nothing: add a [[works]] entry (citation-monitor add DOI) or a [[collections]] table"),
        (C, "[[collections]] 'x' has no way to find its works; give exactly one of orcid, openalex_author, ror, file, works"),
        (C + 'orcid = "0000-0002-1825-0097"\nror = "02nr0ka47"\n', "[[collections]] 'x' has orcid and ror; give exactly one of"),
        (C + 'orcid = "0000-0002-1825-0098"\n', "[[collections]] 'x' orcid: '0000-0002-1825-0098' is not a valid ORCID iD: its check digit is 8"),
        (C + 'ror = "https://ror.org/02nr0ka48"\n', "[[collections]] 'x' ror: 'https://ror.org/02nr0ka48' is not a valid ROR id"),
        (C + 'openalex_author = "W1"\n', "[[collections]] 'x' openalex_author: 'W1' is not an OpenAlex author id"),
        (C + 'works = ["10.1000/a.1", "nonsense"]\n', "[[collections]] 'x' works: 'nonsense' is not a DOI"),
        (C + 'works = ["10.1000/a.1", "doi:10.1000/A.1"]\n', "works: 10.1000/a.1 is listed twice; remove one"),
        (C + "works = []\n", "works is empty; list DOIs"),
        (C + 'orcid = "0000-0002-1825-0097"\nfrom_year = 2020\n', "from_year applies to openalex_author and ror collections only"),
        (C + 'ror = "02nr0ka47"\nfrom_year = 20\n', "from_year must be a year such as 2020, got 20"),
        (C + 'file = "a.bib"\nrefresh_days = 3\n', "refresh_days applies to orcid, openalex_author, ror collections"),
        (C + 'ror = "02nr0ka47"\nrefresh_days = 400\n', "refresh_days must be 365 or less, got 400"),
        (C + 'ror = "02nr0ka47"\nrecipients = ["nobody"]\n', "recipients: 'nobody' is not an email address"),
        (C + 'ror = "02nr0ka47"\norcd = "x"\n', "[[collections]] #1 has unknown key 'orcd'; did you mean 'orcid'?"),
        ('[[collections]]\nror = "02nr0ka47"\n', '[[collections]] #1 has no name; add name = "my-lab"'),
        (C + 'ror = "02nr0ka47"\n' + C.replace('"x"', '"X"') + 'ror = "02nr0ka47"\n', "[[collections]] 'X' is named twice"),
        ("[collections]\nname = 'x'\n", "collections must be an array of tables: write each as [[collections]]"),
        (C + 'ror = "02nr0ka47"\n[orcid]\nbase_url = "ftp://x"\n', "[orcid] base_url 'ftp://x' is not an http(s) URL"),
    ],
)
def test_each_mistake_is_one_line_naming_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and "\n" not in text
    assert message in text


def test_a_config_error_exits_2_through_the_cli(tmp_path, invoke):
    path = write(tmp_path, C + 'orcid = "0000-0002-1825-0098"\n')
    result = invoke("run", "--config", str(path))
    assert result.exit_code == 2 and result.output.startswith(f"Error: {path}: [[collections]] 'x' orcid:")
