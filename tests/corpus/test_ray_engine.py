"""``ner tag --engine ray`` on a local Ray: the same records as the local engine (Ray is an extra)."""

import json
from pathlib import Path

import pytest

from ner.cli import main
from ner.runtime import InputError

ray = pytest.importorskip("ray", reason="the Ray engine is an extra: pip install 'ner-service[ray]'")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_output_equals_the_local_output(local_ray, model_path: Path, tmp_path: Path) -> None:
    from ner.corpus.ray_engine import tag_with_ray

    records = [
        {"id": i, "text": text, "source": "test"}
        for i, text in enumerate(
            [
                "Alice Walker visited Paris.",
                "",
                "Globex opened in Berlin on Monday",
                # as people type
                "\u201cAcme Corp\u201d hired Bob Stone \u2014 in Ber-\nlin\u2026 \U0001f600",
            ]
            * 4
        )
    ]
    folder = tmp_path / "in"
    folder.mkdir()
    for part in range(2):  # a folder of two files, as a corpus usually comes
        (folder / f"part{part}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[part::2]))
    local = tmp_path / "local.jsonl"
    both = tmp_path / "both.jsonl"
    both.write_text("".join(json.dumps(r) + "\n" for r in records))
    args = [
        "tag",
        "--model",
        str(model_path),
        "--input",
        str(both),
        "--output",
        str(local),
        "--backend",
        "torch",
    ]
    assert main(args) == 0
    expected = [json.loads(line) for line in local.read_text().splitlines()]
    out = tmp_path / "out"
    tag_with_ray(str(folder), str(out), model_path, workers=1, device="cpu", block_records=4)
    got = sorted(
        (json.loads(line) for shard in sorted(out.iterdir()) for line in shard.read_text().splitlines()),
        key=lambda r: r["id"],
    )
    assert got == expected
    import pyarrow.parquet as pq

    parquet = tmp_path / "out.parquet"
    tag_with_ray(str(folder), str(parquet), model_path, workers=1, device="cpu", block_records=4)
    table = pq.read_table(parquet).to_pylist()  # a folder of shards, read as one table
    assert sorted(table, key=lambda r: r["id"]) == expected
    with pytest.raises(InputError, match="already exists"):
        tag_with_ray(str(folder), str(out), model_path, workers=1)
    with pytest.raises(InputError, match="leaves none of the cluster's 2 CPUs"):
        tag_with_ray(str(folder), str(out), model_path, workers=2, force=True)


def test_ray_refuses_symlinked_outputs_and_an_output_that_holds_the_input(
    tmp_path: Path, model_path: Path
) -> None:
    """Checked before Ray starts: nothing is written through a link, no input is replaced."""
    from ner.corpus.ray_engine import tag_with_ray

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"text": "Alice"}\n')
    victim = tmp_path / "victim"
    victim.mkdir()
    (tmp_path / ".out.partial").symlink_to(victim)
    with pytest.raises(InputError, match="symlink"):
        tag_with_ray(str(folder), str(tmp_path / "out"), model_path, workers=1, force=True)
    (tmp_path / "linked").symlink_to(victim)
    with pytest.raises(InputError, match="symlink"):
        tag_with_ray(str(folder), str(tmp_path / "linked"), model_path, workers=1, force=True)
    with pytest.raises(InputError, match="holds the input"):
        tag_with_ray(str(folder / "a.jsonl"), str(folder), model_path, workers=1, force=True)
    assert (folder / "a.jsonl").exists() and list(victim.iterdir()) == []


def test_a_record_without_the_text_field_is_an_input_error(
    local_ray, model_path: Path, tmp_path: Path
) -> None:
    from ner.corpus.ray_engine import tag_with_ray
    from ner.runtime import InputError

    source = tmp_path / "in.jsonl"
    source.write_text('{"body": "Alice visited Paris."}\n')
    out = tmp_path / "out"
    with pytest.raises(InputError, match="the input has no 'text' column"):
        tag_with_ray(str(source), str(out), model_path, workers=1)
    assert not out.exists() and not list(tmp_path.glob("*.partial*"))
