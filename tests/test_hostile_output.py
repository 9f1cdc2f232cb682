"""Output paths (issue 12, items 1, 2, 5 and 11): nothing overwritten, written the right way.

SPEC 7: a regular file (or a new path) is written atomically keeping its
permission bits, a symbolic link's target is replaced and the link kept;
devices, FIFOs and /dev/fd/N are written directly; no output may be an input
(device and inode compared, stdin included); outputs are checked before the
work; a full device or temporary folder is one ``Error:`` line.

Device nodes are made with ``os.mknod`` under the test folder (root only),
never the system's /dev; permission tests run as ``nobody`` through setpriv.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX files and signals")

LOSS = [sys.executable, "-m", "losscli"]
DATA = "y_true,y_pred\n1,2\n2,2.5\n3,3\n"
PER_SAMPLE = "row,model,mse\n1,y_pred,1.0\n2,y_pred,0.25\n3,y_pred,0.0\n"


def _rows(text: str | bytes) -> list[tuple[str, ...]]:
    """The per-sample rows with numbers as floats (the writer may print 0.0 as 0)."""
    if isinstance(text, bytes):
        text = text.decode()
    lines = [line.split(",") for line in text.splitlines()]
    return [tuple(lines[0])] + [(r, m, float(v)) for r, m, v in lines[1:]]  # type: ignore[misc]


ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="mknod and mount need root")
SETPRIV = shutil.which("setpriv")


def loss(*args, cwd=None, stdin=None, preexec_fn=None, env=None, user=None):
    cmd = [*LOSS, *map(str, args)]
    if user is not None:
        cmd = [SETPRIV, f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    return subprocess.run(
        cmd,
        cwd=cwd,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=preexec_fn,
        env=env,
    )


def one_error(proc, code):
    assert proc.returncode == code, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    return lines[0]


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(DATA)
    return path


def no_temporaries(folder: Path) -> None:
    assert [p.name for p in folder.iterdir() if p.name.startswith(".losscli-")] == []


# ----------------------------------------------------------------- item 1: inputs are sacred


def test_stdin_input_is_not_overwritten(data):
    with data.open("rb") as stdin:
        proc = loss("compute", "-", "-l", "mse", "--per-sample", data, stdin=stdin)
    line = one_error(proc, 2)
    assert f"--per-sample {data} is the input file" in line
    assert data.read_text() == DATA


@pytest.mark.parametrize("how", ["hardlink", "symlink", "dev-stdin", "relative"])
def test_every_name_of_the_input_is_refused(data, tmp_path, how):
    stdin = None
    if how == "hardlink":
        target = tmp_path / "other_name.csv"
        os.link(data, target)
        args = ["compute", data, "--per-sample", target]
    elif how == "symlink":
        target = tmp_path / "link.csv"
        target.symlink_to(data)
        args = ["compute", target, "--per-sample", data]
    elif how == "dev-stdin":
        stdin = data.open("rb")
        # /dev/fd/0, not /dev/stdin: were the check to fail, no rename can land in /proc.
        args = ["compute", "-", "--per-sample", "/dev/fd/0"]
    else:
        args = ["compute", "data.csv", "--per-sample", "./../" + tmp_path.name + "/data.csv"]
    try:
        proc = loss(*args, "-l", "mse", cwd=tmp_path, stdin=stdin)
    finally:
        if stdin is not None:
            stdin.close()
    one_error(proc, 2)
    assert data.read_text() == DATA


def test_custom_code_is_an_input_too(data, tmp_path):
    code = tmp_path / "mine.py"
    code.write_text("def mine(y_true, y_pred):\n    return abs(y_true - y_pred)\n")
    before = code.read_text()
    proc = loss("compute", data, "--custom", f"{code}:mine", "--per-sample", code)
    one_error(proc, 2)
    assert code.read_text() == before


def test_the_plot_is_checked_before_the_work(tmp_path):
    proc = loss("compare", "-l", "mse", "--plot", tmp_path / "missing" / "c.png")
    assert "folder" in one_error(proc, 1)
    proc = loss("compare", "-l", "mse", "--plot", tmp_path)
    assert proc.returncode in (1, 2) and proc.stdout == ""


# ----------------------------------------------------------------- item 2: how files are written


def test_a_symlink_keeps_its_link_and_its_target_is_replaced(data, tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    link = tmp_path / "out.csv"
    link.symlink_to(target.name)
    proc = loss("compute", data, "-l", "mse", "--per-sample", link, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == "real.csv"
    assert _rows(target.read_text()) == _rows(PER_SAMPLE)
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to("new_target.csv")
    proc = loss("compute", data, "-l", "mse", "--per-sample", dangling, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert dangling.is_symlink() and _rows((tmp_path / "new_target.csv").read_text()) == _rows(
        PER_SAMPLE
    )
    no_temporaries(tmp_path)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_an_existing_file_keeps_its_permission_bits(data, tmp_path, mode):
    out = tmp_path / "out.csv"
    out.write_text("old\n")
    out.chmod(mode)
    proc = loss("compute", data, "-l", "mse", "--per-sample", out, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(out.stat().st_mode) == mode
    assert _rows(out.read_text()) == _rows(PER_SAMPLE)


def test_a_new_file_gets_the_umask_permissions(data, tmp_path):
    out = tmp_path / "new.csv"

    def umask_022():
        os.umask(0o022)

    proc = loss("compute", data, "-l", "mse", "--per-sample", out, preexec_fn=umask_022)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_a_fifo_is_written_directly_and_stays_a_fifo(data, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def reader():
        with open(fifo, "rb") as handle:
            received.append(handle.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    proc = loss("compute", data, "-l", "mse", "--per-sample", fifo, "--format", "json")
    thread.join(timeout=60)
    if thread.is_alive():  # the FIFO was replaced: release the reader, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert len(received) == 1 and _rows(received[0]) == _rows(PER_SAMPLE)
    no_temporaries(tmp_path)


def test_dev_fd_n_is_written_directly(data):
    """``--per-sample >(wc -c)``: the shell passes /dev/fd/N, the write end of a pipe."""
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [*LOSS, "compute", str(data), "-l", "mse", "--per-sample", f"/dev/fd/{write_end}"],
        pass_fds=(write_end,),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(write_end)
    with os.fdopen(read_end, "rb") as handle:
        received = handle.read()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert _rows(received) == _rows(PER_SAMPLE)


@needs_root
def test_a_character_device_is_written_directly_and_stays_one(data, tmp_path):
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    proc = loss("compute", data, "-l", "mse", "--per-sample", null, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISCHR(null.stat().st_mode), "the device node was replaced by a file"
    no_temporaries(tmp_path)


@needs_root
def test_a_full_device_as_output_is_one_error(data, tmp_path):
    full = tmp_path / "full"
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    proc = loss("compute", data, "-l", "mse", "--per-sample", full)
    assert "No space left on device" in one_error(proc, 1)
    assert stat.S_ISCHR(full.stat().st_mode)
    for fmt in ("table", "json", "csv"):
        with full.open("w") as stdout:
            proc = subprocess.run(
                [*LOSS, "compute", str(data), "--format", fmt],
                stdout=stdout,
                stderr=subprocess.PIPE,
                text=True,
                timeout=60,
            )
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr == "Error: cannot write to stdout: No space left on device\n"


def _file_size_limit(limit: int):
    def apply():
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a core dump
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_temporary_folder_is_one_error(tmp_path):
    """stdin is spooled to TMPDIR; a write there that fails is a clear error, not a bug."""
    big = tmp_path / "big.csv"
    big.write_text("y_true,y_pred\n" + "1.5,2.25\n" * 50_000)
    with big.open("rb") as stdin:
        proc = loss(
            "compute", "-", "-l", "mse", stdin=stdin, preexec_fn=_file_size_limit(64 * 1024)
        )
    line = one_error(proc, 1)
    assert "File too large" in line and "TMPDIR" in line


@needs_root
def test_a_full_tmpfs_as_tmpdir_is_one_error(tmp_path):
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(tiny)])
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        big = tmp_path / "big.csv"
        big.write_text("y_true,y_pred\n" + "1.5,2.25\n" * 50_000)
        with big.open("rb") as stdin:
            proc = loss(
                "compute", "-", "-l", "mse", stdin=stdin, env={**os.environ, "TMPDIR": str(tiny)}
            )
        line = one_error(proc, 1)
        assert "No space left on device" in line and "TMPDIR" in line
        assert list(tiny.iterdir()) == []
    finally:
        subprocess.run(["umount", str(tiny)], check=True)


def test_a_closed_stdin_is_one_error():
    proc = loss("compute", "-", preexec_fn=lambda: os.close(0))
    assert "stdin is closed" in one_error(proc, 1)


# ----------------------------------------------------------------- signals


def test_sigterm_leaves_no_temporary_file(tmp_path):
    """In the middle of writing a --per-sample file, SIGTERM unwinds like Ctrl-C."""
    from losscli.atomic import write_atomically
    from losscli.cli import _on_termination
    from losscli.errors import Terminated

    previous = signal.signal(signal.SIGTERM, _on_termination)
    try:

        def write(handle):
            handle.write("half a file\n")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before this ends
            handle.write("the other half\n")

        with pytest.raises(Terminated):
            write_atomically(str(tmp_path / "out.csv"), write)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert list(tmp_path.iterdir()) == []


def test_sigterm_exits_143_quietly(tmp_path):
    code = tmp_path / "slow.py"
    code.write_text(
        "import os, signal\n\n"
        "def slow(y_true, y_pred):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    return abs(y_true - y_pred)\n"
    )
    (tmp_path / "data.csv").write_text(DATA)
    proc = loss(
        "compute", "data.csv", "--custom", "slow.py:slow", "--per-sample", "o.csv", cwd=tmp_path
    )
    assert proc.returncode == 143, proc.stderr
    assert proc.stdout == "" and proc.stderr == "Terminated.\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "slow.py"]


_ENDING = (
    "import atexit, os, sys\n"
    "class Teardown:\n"
    "    def __del__(self, write=os.write):\n"
    "        write(2, b'module teardown\\n')\n"
    "kept = Teardown()\n"
    "atexit.register(lambda: sys.stderr.write('exit functions ran\\n'))\n"
    "from losscli.cli import main\n"
    "sys.argv = ['loss'] + sys.argv[1:]\n"
    "main()\n"
)


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (("compute", "data.csv", "-l", "mse", "--per-sample", "-"), 0),
        (("compute", "missing.csv"), 1),
    ],
)
def test_the_process_ends_after_exit_functions_without_module_teardown(tmp_path, args, status):
    """After a command, Arrow's pool threads may still be letting go of a CSV read;
    asking for the GIL during the interpreter's teardown aborts the process (exit -6
    after a complete output). main() flushes the outputs, runs Python's exit
    functions and ends the process with the command's status, before any teardown."""
    rows = "".join(f"{i},{i + 0.5}\n" for i in range(30_000))
    (tmp_path / "data.csv").write_text("y_true,y_pred\n" + rows)
    proc = subprocess.run(
        [sys.executable, "-c", _ENDING, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == status, proc.stderr
    assert proc.stderr.endswith("exit functions ran\n"), proc.stderr
    assert "module teardown" not in proc.stderr
    if status == 0:  # the whole per-sample output, well past a pipe's buffer, arrived
        lines = proc.stdout.splitlines()
        assert lines[0] == "row,model,mse" and len(lines) == 30_001
        assert lines[-1] == "30000,y_pred,0.25"
    else:
        assert proc.stdout == "" and proc.stderr.startswith("Error: ")


@pytest.mark.parametrize(
    ("replacement", "status", "said"),
    [
        ("lambda: sys.exit('bye')", 1, "bye\n"),  # a text exit code, as Python prints it
        ("lambda: sys.exit(None)", 0, ""),
        ("lambda: sys.exit(3)", 3, ""),
        ("lambda: 1 / 0", 1, "ZeroDivisionError"),  # not an exit: its traceback, status 1
    ],
)
def test_every_way_out_of_the_command_line_ends_the_same_way(replacement, status, said):
    code = _ENDING.replace(
        "from losscli.cli import main\n",
        f"import losscli.cli as c\nc.run = {replacement}\nmain = c.main\n",
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == status, proc.stderr
    assert said in proc.stderr
    assert proc.stderr.endswith("exit functions ran\n")
    assert "module teardown" not in proc.stderr


# ----------------------------------------------------------------- as an unprivileged user


@pytest.mark.skipif(not (ROOT and SETPRIV), reason="runs as nobody through setpriv (needs root)")
def test_unwritable_outputs_are_reported_before_the_work():
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="losscli-test-", dir="/tmp"))
    try:
        folder.chmod(0o777)
        probe = subprocess.run(
            [SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups", *LOSS, "--help"],
            cwd=folder,
            capture_output=True,
            timeout=60,
        )
        if probe.returncode != 0:
            pytest.skip("nobody cannot run this interpreter's losscli (its folder is private)")
        data = folder / "data.csv"
        data.write_text(DATA)
        locked = folder / "locked"
        locked.mkdir(mode=0o555)
        proc = loss(
            "compute", data, "-l", "mse", "--per-sample", locked / "out.csv", user=65534, cwd=folder
        )
        assert "permission denied in folder" in one_error(proc, 1)
        readonly = folder / "readonly.csv"
        readonly.write_text("keep\n")
        readonly.chmod(0o444)
        proc = loss("compute", data, "-l", "mse", "--per-sample", readonly, user=65534, cwd=folder)
        assert "read-only" in one_error(proc, 1)
        assert readonly.read_text() == "keep\n"
        hidden = folder / "hidden"
        hidden.mkdir(mode=0o700)
        proc = loss(
            "compute",
            data,
            "-l",
            "mse",
            "--per-sample",
            hidden / "x" / "o.csv",
            user=65534,
            cwd=folder,
        )
        assert "permission denied" in one_error(proc, 1)
        assert sorted(p.name for p in folder.iterdir()) == [
            "data.csv",
            "hidden",
            "locked",
            "readonly.csv",
        ]
    finally:
        shutil.rmtree(folder)


# ----------------------------------------------------------------- item 5: bounded work


@pytest.mark.parametrize("command", ["compute", "compare"])
def test_bootstrap_is_bounded(run, tmp_path, command):
    path = tmp_path / "d.csv"
    path.write_text(DATA)
    out = run(command, path, "--ci", "0.9", "--bootstrap", "1000000000")
    assert out.exit_code == 2 and out.stdout == ""
    assert "100000" in out.stderr
    ok = run(command, path, "--ci", "0.9", "--bootstrap", "100000", "-l", "mse", "--help")
    assert "10 to 100,000" in ok.stdout


def test_bootstrap_bound_in_the_api(tmp_path):
    import losscli as lc

    path = tmp_path / "d.csv"
    path.write_text(DATA)
    with pytest.raises(lc.UsageError, match="between 10 and 100,000"):
        lc.compute(str(path), ci=0.9, n_boot=100_001)


# ----------------------------------------------------------------- an empty output path


@pytest.mark.parametrize(
    ("args", "option", "given"),
    [
        (("compute", "data.csv", "--per-sample", ""), "--per-sample", ""),
        (("compute", "data.csv", "--per-sample", " "), "--per-sample", " "),
        (("compute", "data.csv", "--per-sample", "\t"), "--per-sample", "\t"),
        (("report", "data.csv", "-o", ""), "--output", ""),
        (("report", "data.csv", "--output="), "--output", ""),
        (("report", "data.csv", "-o", "  "), "--output", "  "),
    ],
)
def test_an_empty_output_path_is_a_usage_error(data, args, option, given):
    """Not 'cannot write : No such file or directory' (exit 1), nor the report's default
    name used instead of what was typed, nor a file named ' ': exit 2 naming the option,
    nothing written."""
    proc = loss(*args, cwd=data.parent)
    line = one_error(proc, 2)
    assert line == f"Error: {option} needs a file name, or - for stdout (got {given!r})"
    assert sorted(p.name for p in data.parent.iterdir()) == ["data.csv"]


def test_the_api_refuses_an_empty_per_sample_path_before_any_work(data):
    import losscli as lc

    with pytest.raises(lc.UsageError, match="per_sample is an empty path"):
        lc.compute(str(data), per_sample="")
    with pytest.raises(lc.UsageError, match="per_sample is an empty path"):
        lc.compute(str(data), per_sample=b"")
    with pytest.raises(lc.UsageError, match="per_sample is an empty path"):
        lc.compute(str(data), per_sample=" ")
    assert sorted(p.name for p in data.parent.iterdir()) == ["data.csv"]


def test_an_empty_path_is_refused_where_outputs_are_checked():
    from losscli.atomic import check_output
    from losscli.errors import InputError

    for path in ("", " ", "\n"):
        with pytest.raises(InputError, match="empty path"):
            check_output(path)
