"""Real clusters on this machine for the scale tests: Ray (a head and one worker node) and a
single-node Slurm from the distribution's packages (munge, slurmctld, slurmd).

Every daemon is started by us, in a folder of our own, on ports picked free, and stopped by its
own process id (never by name), so two runs on one host do not meet. Run as a script, it writes
the slurm.conf this host would get:

    python tests/scale/clusters.py slurm-conf DIR
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

# Ray gives each node an address of its own; 127.0.0.2 and 127.0.0.3 are loopback addresses (all
# of 127/8 is), so the cluster's traffic never leaves this machine. Ray binds its servers to
# loopback alone only for a node at 127.0.0.1 itself, which `ray start` allows only for one-node
# clusters; here its ports also listen on the host's other interfaces while the cluster runs.
RAY_HEAD_IP, RAY_WORKER_IP = "127.0.0.2", "127.0.0.3"
RAY_READY = "Ray runtime started."
SLURM_TOOLS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo", "scancel", "srun")


class ClusterUnavailable(RuntimeError):
    """The cluster could not be brought up on this machine (the message says why)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _wait_for(predicate, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-1500:] if log and log.is_file() else ""
            raise ClusterUnavailable(f"{what} not ready after {timeout:.0f} s" + (f"; log:\n{tail}" if tail else ""))
        time.sleep(0.2)


def _stop_group(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM the process group we started `proc` in, then SIGKILL what is left."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(grace)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # children of a stopped `ray start` may still hold the group
    except ProcessLookupError:
        pass
    proc.wait()


# --------------------------------------------------------------------------- Ray


class RayCluster:
    """`ray start --head` plus `ray start --address` (one worker node), each `--block`ing in a
    process group of its own, with small CPU and memory resources."""

    def __init__(self, root: Path, cpus_per_node: int = 1, memory_gb: float = 1.0, object_store_mb: int = 80):
        self.root = root
        self.port = free_port()
        self.resources = [f"--num-cpus={cpus_per_node}", f"--memory={int(memory_gb * 2**30)}",
                          f"--object-store-memory={object_store_mb * 2**20}", "--disable-usage-stats"]
        self.nodes: list[subprocess.Popen] = []
        # the head's metrics exporters default to fixed ports; another cluster on the host would collide
        self.metric_ports = {"DASHBOARD_METRIC_PORT": str(free_port()), "AUTOSCALER_METRIC_PORT": str(free_port())}

    @property
    def address(self) -> str:
        """What a driver puts in RAY_ADDRESS."""
        return f"{RAY_HEAD_IP}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment of the daemons and of drivers that connect to this cluster."""
        return {**os.environ, "RAY_ADDRESS": self.address, "RAY_USAGE_STATS_ENABLED": "0", **self.metric_ports}

    def start(self, timeout: float = 150) -> None:
        """Head first, then the worker node; returns when both are registered."""
        ray = Path(sys.executable).with_name("ray")
        if not ray.is_file():
            raise ClusterUnavailable(f"no `ray` command next to {sys.executable}; pip install 'rexbert[ray]'")
        head = ["--head", f"--node-ip-address={RAY_HEAD_IP}", f"--port={self.port}", "--include-dashboard=false",
                f"--ray-client-server-port={free_port()}"]
        worker = [f"--address={self.address}", f"--node-ip-address={RAY_WORKER_IP}"]
        for name, args in (("head", head), ("worker", worker)):
            self._start_node(ray, name, args, timeout)
        self._wait_nodes(ray, 2, timeout)

    def _start_node(self, ray: Path, name: str, args: list[str], timeout: float) -> None:
        log = self.root / f"{name}.log"
        temp_dir = self.root / name  # each node's sessions, sockets and logs
        cmd = [str(ray), "start", "--block", *args, *self.resources, f"--temp-dir={temp_dir}"]
        # datatrove's task actors write their logs under the temporary folder first: keep them in ours
        (self.root / "tmp").mkdir(exist_ok=True)
        env = {**self.env(), "TMPDIR": str(self.root / "tmp")}
        with log.open("w") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.nodes.append(proc)
        _wait_for(lambda: proc.poll() is not None or RAY_READY in log.read_text(errors="replace"),
                  timeout, f"ray {name} node", log)
        if proc.poll() is not None:
            raise ClusterUnavailable(f"ray {name} node exited with {proc.returncode}: "
                                     f"{log.read_text(errors='replace')[-1500:]}")

    def _wait_nodes(self, ray: Path, count: int, timeout: float) -> None:
        def registered() -> bool:
            out = subprocess.run([str(ray), "status", f"--address={self.address}"], env=self.env(),
                                 capture_output=True, text=True).stdout
            return len(re.findall(r"^\s*1 node_", out, flags=re.M)) >= count
        _wait_for(registered, timeout, f"{count} ray nodes")

    def rank_workers(self, node: str) -> int:
        """How many of datatrove's task actors (`RankWorker`) node "head" or "worker" has run:
        Ray starts each actor in a worker process whose log begins with its actor name."""
        logs = self.root / node / "session_latest" / "logs"
        return sum(":actor_name:RankWorker" in path.read_text(errors="replace")[:300]
                   for path in logs.glob("worker-*.out"))

    def stop(self) -> None:
        """Worker node first, then the head."""
        for proc in reversed(self.nodes):
            _stop_group(proc)
        self.nodes.clear()


# --------------------------------------------------------------------------- Slurm


def missing_slurm_tools() -> list[str]:
    """The Slurm and munge commands this machine lacks."""
    return [tool for tool in SLURM_TOOLS if shutil.which(tool) is None]


def node_line() -> str:
    """This host as slurmd sees it (`slurmd -C`: NodeName, CPUs, sockets, cores, RealMemory)."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("NodeName=")), None)
    if line is None:
        raise ClusterUnavailable(f"`slurmd -C` printed no NodeName line: {out!r}")
    return line.strip()


def slurm_conf(root: Path, node: str, ctld_port: int, slurmd_port: int, partition: str = "rexbert") -> str:
    """A single-node slurm.conf whose state, spool, pid and log files all live under `root`.

    Processes are tracked by process id and no cgroups are used (containers rarely allow them);
    daemons listen on 127.0.0.1 only (NoCtldInAddrAny, NoInAddrAny).
    """
    host = re.match(r"NodeName=(\S+)", node).group(1)
    user = _user()
    return "\n".join([
        "ClusterName=rexbert-test",
        f"SlurmctldHost={host}(127.0.0.1)",
        f"SlurmctldPort={ctld_port}",
        f"SlurmdPort={slurmd_port}",
        "CommunicationParameters=NoCtldInAddrAny,NoInAddrAny",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={root / 'munge-socket' / 'munge.socket'}",
        f"SlurmUser={user}",
        f"SlurmdUser={user}",
        f"StateSaveLocation={root / 'state'}",
        f"SlurmdSpoolDir={root / 'spool'}",
        f"SlurmctldPidFile={root / 'slurmctld.pid'}",
        f"SlurmdPidFile={root / 'slurmd.pid'}",
        f"SlurmctldLogFile={root / 'slurmctld.log'}",
        f"SlurmdLogFile={root / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/none",
        "MpiDefault=none",
        "SchedulerType=sched/builtin",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU_Memory",
        "ReturnToService=2",
        "MinJobAge=300",
        "KillWait=5",
        "MailProg=/bin/true",
        f"{node} NodeAddr=127.0.0.1 State=UNKNOWN",
        f"PartitionName={partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


class SlurmCluster:
    """munged with a fresh key, slurmctld and slurmd for this host, all under `root`."""

    partition = "rexbert"

    def __init__(self, root: Path):
        self.root = root
        self.conf = root / "slurm.conf"
        self.socket = root / "munge-socket" / "munge.socket"
        self.pid_files = [root / "slurmd.pid", root / "slurmctld.pid", root / "munge" / "munged.pid"]

    def env(self) -> dict[str, str]:
        """Environment for sbatch/squeue/scontrol (and the jobs they launch) to reach this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def start(self, timeout: float = 60) -> None:
        """munged, then slurmctld, then slurmd; returns when the node is idle."""
        missing = missing_slurm_tools()
        if missing:
            raise ClusterUnavailable(f"Slurm/munge commands not installed: {', '.join(missing)} "
                                     "(apt-get install slurm-wlm munge)")
        if os.geteuid() != 0:
            raise ClusterUnavailable("slurmd launches jobs as their owner and must run as root")
        self._start_munge()
        self.conf.write_text(slurm_conf(self.root, node_line(), free_port(), free_port(), self.partition))
        for name in ("state", "spool"):
            (self.root / name).mkdir()
        for daemon in ("slurmctld", "slurmd"):
            self._run([daemon, "-f", str(self.conf)], daemon)
        _wait_for(self._node_idle, timeout, "slurm node", self.root / "slurmd.log")

    def _start_munge(self) -> None:
        # munged insists: the key readable by its owner only, the socket's folder open to all
        key_dir, sock_dir = self.root / "munge", self.socket.parent
        key_dir.mkdir(mode=0o700)
        sock_dir.mkdir(mode=0o755)
        for path in (self.root, sock_dir):
            path.chmod(0o755)
        key = key_dir / "munge.key"
        self._run(["mungekey", "--create", f"--keyfile={key}"], "mungekey")
        self._run(["munged", f"--socket={self.socket}", f"--key-file={key}", f"--pid-file={key_dir / 'munged.pid'}",
                   f"--log-file={key_dir / 'munged.log'}", f"--seed-file={key_dir / 'munged.seed'}"], "munged")

    def _run(self, cmd: list[str], what: str) -> None:
        result = subprocess.run(cmd, capture_output=True, text=True, env=self.env(), timeout=60)
        if result.returncode != 0:
            raise ClusterUnavailable(f"{what} failed ({result.returncode}): {(result.stderr or result.stdout).strip()[-800:]}")

    def _node_idle(self) -> bool:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, env=self.env()).stdout
        return out.strip() == "idle"

    def queue(self) -> list[str]:
        """One line per job still queued or running: id, state, reason."""
        out = subprocess.run(["squeue", "-h", "-o", "%i %T %r"], capture_output=True, text=True, env=self.env(),
                             check=True).stdout
        return [line for line in out.splitlines() if line.strip()]

    def wait_idle(self, timeout: float) -> None:
        """Until no job is left; fails on a job that can never start (a dependency that failed)."""
        deadline = time.monotonic() + timeout
        while jobs := self.queue():
            stuck = [job for job in jobs if "DependencyNeverSatisfied" in job]
            if stuck or time.monotonic() > deadline:
                raise AssertionError(f"Slurm jobs did not finish: {jobs}; failed jobs in {self.root / 'slurmctld.log'}:\n"
                                     + "\n".join(self.failed_jobs()))
            time.sleep(0.5)

    def job_exits(self) -> list[tuple[str, int]]:
        """(job, exit status) of every job slurmctld saw finish."""
        log = (self.root / "slurmctld.log").read_text(errors="replace")
        return [(job, int(code)) for job, code in re.findall(r"_job_complete: JobId=(\S+) WEXITSTATUS (\d+)", log)]

    def failed_jobs(self) -> list[str]:
        """Jobs that exited non-zero."""
        return [f"{job} exited {code}" for job, code in self.job_exits() if code != 0]

    def stop(self) -> None:
        """Cancel what is left, then stop slurmd, slurmctld and munged by their pid files."""
        if self.conf.is_file():
            subprocess.run(["scancel", "--full", "--user", _user()], env=self.env(), capture_output=True, timeout=30)
        for pid_file in self.pid_files:
            _kill_pid_file(pid_file)


def _kill_pid_file(pid_file: Path, grace: float = 10.0) -> None:
    if not pid_file.is_file():
        return
    pid = int(pid_file.read_text().strip())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    conf = sub.add_parser("slurm-conf", help="print the single-node slurm.conf for this host, files under DIR")
    conf.add_argument("dir", type=Path)
    args = parser.parse_args(argv)
    print(slurm_conf(args.dir.resolve(), node_line(), free_port(), free_port()), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
