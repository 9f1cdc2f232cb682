"""Reading s3:// URLs from a real local S3 endpoint (moto's server), as one dataset.

The bucket holds hive-partitioned Parquet and CSV files; the same files are
kept on disk and written as one file too. Through the CLI and the API the
results equal both to 1e-12, and the failures (no credentials, an unreachable
endpoint, a missing partition) are one clear Error that never shows a secret.
"""

from __future__ import annotations

import json
import logging
import pickle
import socket

import numpy as np
import pyarrow.csv as pacsv
import pytest

import losscli as lc
from losscli.errors import InputError
from losscli.io.columns import InputOptions
from losscli.io.files import remote_error
from losscli.io.source import open_source
from tests.test_errors import assert_error
from tests.test_files import DAYS, assert_same_json, make_dataset

moto_server = pytest.importorskip("moto.server", reason="moto[server] is in the test extra")
pytest.importorskip("s3fs", reason="s3fs is in the test extra")

BUCKET = "preds-bucket"
KEY, SECRET = "AKIDLOSSCLITEST", "s3cr3t-value-never-printed-9f2c"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server on a free local port with the dataset under two prefixes."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    import s3fs

    fs = s3fs.S3FileSystem(key=KEY, secret=SECRET, endpoint_url=endpoint, skip_instance_cache=True)
    fs.mkdir(BUCKET)
    local = tmp_path_factory.mktemp("s3data")
    parquet_root = local / "parquet"
    whole = make_dataset(parquet_root)
    csv_root = local / "csv"
    csv_whole = make_dataset(csv_root, csv_days=DAYS)
    fs.put(str(parquet_root) + "/", f"{BUCKET}/parquet/", recursive=True)
    fs.put(str(csv_root) + "/", f"{BUCKET}/logs/", recursive=True)
    single = local / "whole.csv"
    pacsv.write_csv(whole, single)
    csv_single = local / "csv_whole.csv"
    pacsv.write_csv(csv_whole, csv_single)
    options = {"endpoint_url": endpoint, "key": KEY, "secret": SECRET}
    try:
        yield {
            "endpoint": endpoint,
            "fs": fs,
            "options": options,
            "args": [
                "--storage-option",
                f"endpoint_url={endpoint}",
                "--storage-option",
                f"key={KEY}",
                "--storage-option",
                f"secret={SECRET}",
            ],
            "parquet_root": parquet_root,
            "csv_root": csv_root,
            "single": single,
            "csv_single": csv_single,
        }
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch, tmp_path):
    """Only the credentials a test passes: none from the environment or ~/.aws."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _json(run, *args):
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert SECRET not in result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ["compute", "--group-by", "day", "--weight-col", "w"],
        ["compare", "--pred-col", "y_pred", "--pred-col", "model_b"],
        ["sensitivity"],
        ["recommend"],
    ],
)
def test_parquet_prefix_equals_local_files_and_one_file(run, s3, args):
    command, rest = args[0], args[1:]
    url = f"s3://{BUCKET}/parquet/"
    remote = _json(run, command, url, *rest, *s3["args"])
    assert remote["source"] == url
    assert_same_json(remote, _json(run, command, s3["parquet_root"], *rest))
    assert_same_json(remote, _json(run, command, s3["single"], *rest))


def test_csv_glob_over_s3(run, s3):
    url = f"s3://{BUCKET}/logs/**/part-*.csv"
    remote = _json(run, "compute", url, "--group-by", "day", *s3["args"])
    assert_same_json(remote, _json(run, "compute", s3["csv_single"], "--group-by", "day"))
    assert {r["group"] for r in remote["results"]} == {
        None,
        "2026-11-01",
        "2026-11-02",
        "2026-11-03",
    }


def test_api_with_storage_options(s3):
    url = f"s3://{BUCKET}/parquet"
    got = lc.compute(url, losses="mse,mae", group_by="day", storage_options=s3["options"])
    want = lc.compute(str(s3["single"]), losses="mse,mae", group_by="day")
    assert_same_json(got.to_dict(), want.to_dict())
    single = lc.compute(
        f"s3://{BUCKET}/parquet/{DAYS[0]}/part-0.parquet",
        losses="mse",
        storage_options=s3["options"],
    )
    assert single.n_rows > 0


def test_partitions_over_s3(s3):
    source = open_source(
        f"s3://{BUCKET}/parquet/",
        InputOptions(group_by="day"),
        storage_options=s3["options"],
    )
    parts = [pickle.loads(pickle.dumps(p)) for p in source.partitions()]
    assert len(parts) == 6
    assert all(p.path.startswith(f"s3://{BUCKET}/parquet/day=") for p in parts)
    assert SECRET not in repr(parts)
    assert [p.row_offset for p in parts][0] == 0 and None not in [p.row_offset for p in parts]
    direct = list(source.batches())
    got = [c for p in parts for c in p.batches()]
    for name in ("y_true", "row_numbers", "groups"):
        np.testing.assert_array_equal(
            np.concatenate([getattr(c, name) for c in direct]),
            np.concatenate([getattr(c, name) for c in got]),
            err_msg=name,
        )


def test_missing_partition_names_the_file(s3):
    fs = s3["fs"]
    fs.put(str(s3["single"]), f"{BUCKET}/tmp/a.csv")
    fs.put(str(s3["single"]), f"{BUCKET}/tmp/b.csv")
    source = open_source(f"s3://{BUCKET}/tmp/", InputOptions(), storage_options=s3["options"])
    parts = source.partitions()
    fs.rm(f"{BUCKET}/tmp/b.csv")
    with pytest.raises(InputError, match=f"s3://{BUCKET}/tmp/b.csv"):
        list(parts[1].batches())
    with pytest.raises(InputError, match=f"file not found: s3://{BUCKET}/tmp/b.csv"):
        list(source.batches())
    fs.rm(f"{BUCKET}/tmp/a.csv")


def test_missing_bucket_and_prefix(run, s3):
    assert_error(run("compute", f"s3://{BUCKET}/nothing-here/", *s3["args"]), 1, "file not found")
    line = assert_error(run("compute", "s3://no-such-bucket/x/", *s3["args"]), 1, "no-such-bucket")
    assert SECRET not in line


def test_no_credentials_is_a_clear_error(run, s3):
    result = run(
        "compute", f"s3://{BUCKET}/parquet/", "--storage-option", f"endpoint_url={s3['endpoint']}"
    )
    assert_error(result, 1, "no usable credentials", "--storage-option key=")


def test_secret_never_printed(run, s3):
    # A secret without its key, and a wrong key: the errors never show the secret.
    for extra in (
        ["--storage-option", f"secret={SECRET}"],
        ["--storage-option", f"key={KEY}x", "--storage-option", f"secret={SECRET}", "--traceback"],
    ):
        result = run(
            "compute",
            "s3://no-such-bucket/x/",
            "--storage-option",
            f"endpoint_url={s3['endpoint']}",
            *extra,
        )
        assert result.exit_code != 0
        assert SECRET not in result.stderr and SECRET not in result.stdout


def test_unreachable_endpoint_is_an_error_not_a_hang(run):
    # A port bound but not listening: connections are refused, and no other process
    # (a Dask worker of a test running meanwhile) can take it while the command runs.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        result = run(
            "compute",
            f"s3://{BUCKET}/parquet/",
            "--storage-option",
            f"endpoint_url=http://127.0.0.1:{port}",
            "--storage-option",
            f"key={KEY}",
            "--storage-option",
            f"secret={SECRET}",
        )
    line = assert_error(result, 1, "cannot reach the storage", "endpoint_url")
    assert SECRET not in line


@pytest.mark.parametrize("port", [40369, 14030, 4030, 403])
def test_unreachable_endpoint_whose_port_holds_403_is_not_access_denied(port):
    # The endpoint's URL is in the error's text: a port such as 40369 once made a
    # refused connection read "access denied" (a random port in the test above).
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

    url = f"http://127.0.0.1:{port}/{BUCKET}/parquet"
    for exc in (EndpointConnectionError(endpoint_url=url), ConnectTimeoutError(endpoint_url=url)):
        message = str(remote_error(f"s3://{BUCKET}/parquet/", exc, {}))
        assert message.startswith(f"cannot reach the storage for s3://{BUCKET}/parquet/ ("), message
        assert str(port) in message and "access denied" not in message
    refused = ConnectionRefusedError(111, f"Connect call failed ('127.0.0.1', {port})")
    assert "cannot reach the storage" in str(remote_error("s3://b/k", refused, {}))


@pytest.mark.parametrize(
    "detail",
    [
        "An error occurred (403) when calling the HeadObject operation: Forbidden",
        "An error occurred (AccessDenied) when calling the ListObjectsV2 operation",
        "Server responded with status 403",
        "HTTP 403: signature does not match",
    ],
)
def test_http_403_and_access_denied_are_access_denied(detail):
    message = str(remote_error("s3://b/k", OSError(detail), {}))
    assert (
        message == f"cannot read s3://b/k: access denied ({detail}); check the credentials "
        "and that they may read this location"
    )


@pytest.mark.parametrize(
    "detail", ["bucket b-4031 has no key k", "request 4030ab failed", "object v1.403.2 is gone"]
)
def test_digits_403_inside_a_word_are_not_access_denied(detail):
    assert str(remote_error("s3://b/k", OSError(detail), {})) == f"cannot read s3://b/k: {detail}"


def test_s3_partitions_open_in_another_process(s3):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tests.test_partitions import _read_elsewhere

    source = open_source(
        f"s3://{BUCKET}/parquet/", InputOptions(group_by="day"), storage_options=s3["options"]
    )
    parts = source.partitions()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        got = list(pool.map(_read_elsewhere, parts))
    direct = list(source.batches())
    np.testing.assert_array_equal(
        np.concatenate([g[0] for g in got]), np.concatenate([c.y_true for c in direct])
    )
    np.testing.assert_array_equal(
        np.concatenate([g[1] for g in got]), np.concatenate([c.row_numbers for c in direct])
    )


@pytest.fixture(scope="module")
def dask_client():
    """Two single-threaded worker processes that read the partitions from S3 themselves."""
    distributed = pytest.importorskip("distributed", reason="dask is in the test extra")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.mark.parametrize(
    "url, args",
    [
        (f"s3://{BUCKET}/parquet/", ["compute", "--group-by", "day", "--weight-col", "w"]),
        (f"s3://{BUCKET}/parquet/", ["compare", "--pred-col", "y_pred", "--pred-col", "model_b"]),
        (f"s3://{BUCKET}/logs/**/part-*.csv", ["compute", "--group-by", "day"]),
    ],
)
def test_s3_on_the_dask_engine_equals_the_local_engine(run, s3, dask_client, url, args):
    command, rest = args[0], args[1:]
    address = dask_client.scheduler.address
    on_dask = _json(
        run, command, url, *rest, *s3["args"], "--engine", "dask", "--scheduler", address
    )
    assert_same_json(on_dask, _json(run, command, url, *rest, *s3["args"]))


def test_api_s3_on_the_dask_engine(s3, dask_client):
    url = f"s3://{BUCKET}/parquet"
    kwargs = {"losses": "mse,mae,median_ae", "group_by": "day", "storage_options": s3["options"]}
    got = lc.compute(url, engine="dask", scheduler=dask_client, **kwargs)
    want = lc.compute(str(s3["single"]), losses="mse,mae,median_ae", group_by="day")
    assert_same_json(got.to_dict(), want.to_dict())
