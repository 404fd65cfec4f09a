"""The toy adapter (tests/adapters/toy), built only for the tests: a daemon
whose adapter directory holds every real adapter and the toy one."""
import glob
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("POLYVISOR_BUILD", os.path.join(ROOT, "build"))


def toy_adapter_dir(tmpdir):
    """A directory of links to build/adapters/*.so and the toy adapter."""
    toy = os.path.join(BUILD, "test-adapters", "toy.so")
    assert os.path.exists(toy), "%s is missing: make test-adapters builds it" % toy
    d = os.path.join(tmpdir, "adapters-with-toy")
    os.makedirs(d, exist_ok=True)
    for so in glob.glob(os.path.join(BUILD, "adapters", "*.so")) + [toy]:
        link = os.path.join(d, os.path.basename(so))
        if not os.path.exists(link):
            os.symlink(so, link)
    return d


def with_toy(daemon, tmpdir):
    """Restart daemon so it loads the toy adapter too."""
    daemon.stop()
    daemon.extra_args += ["--adapter-dir", toy_adapter_dir(tmpdir)]
    daemon.start()
    return daemon
