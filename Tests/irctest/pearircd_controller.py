"""irctest controller for `pearircd run --standalone` (PearIRC's plain local IRC server).

Our own code, modelled on irctest's controllers for other servers (irctest/controllers/ngircd.py, ergo.py).
Load it with `--controller pearircd_controller` and this directory on PYTHONPATH; see docs/conformance.md.

The binary is `$PEARIRCD`, else `pearircd` on PATH. SASL accounts go in a file pearircd re-reads at every attempt
(`--sasl-accounts-file`), so `registerUser` appends a line, even while clients are connected. With an older
pearircd that lacks the option, it restarts the server with one more `--sasl-account` instead.
"""

import atexit
import os
import shutil
import subprocess
from typing import List, Optional, Set, Tuple, Type

from irctest import cases
from irctest.basecontrollers import BaseServerController, DirectoryBasedController
from irctest.runner import NotImplementedByController
from irctest.specifications import Capabilities, OptionalBehaviors


# Servers this worker started. irctest does not call tearDown when a test's setUp raises (a skip included), which
# would leave that test's server running; whatever is still alive when the worker exits is stopped here.
_started: List[subprocess.Popen] = []


@atexit.register
def _stop_leftovers() -> None:
    for process in _started:
        if process.poll() is None:
            process.kill()
            process.wait()


class PearircdController(BaseServerController, DirectoryBasedController):
    software_name = "PearIRC"
    _port_wait_interval = 0.01
    supported_sasl_mechanisms: Set[str] = {"PLAIN", "SCRAM-SHA-256"}
    supports_sts = False
    nickserv = "NickServ"

    capabilities = frozenset(
        (
            Capabilities.ACCOUNT_NOTIFY,
            Capabilities.ACCOUNT_TAG,
            Capabilities.AWAY_NOTIFY,
            Capabilities.BATCH,
            Capabilities.ECHO_MESSAGE,
            Capabilities.EXTENDED_JOIN,
            Capabilities.LABELED_RESPONSE,
            Capabilities.MESSAGE_TAGS,
            Capabilities.MULTI_PREFIX,
            Capabilities.SERVER_TIME,
            Capabilities.SETNAME,
        )
    )

    optional_behaviors = frozenset(
        (
            OptionalBehaviors.CAP_REQ_MINUS,
            OptionalBehaviors.MULTI_JOIN,
            OptionalBehaviors.MULTI_PRIVMSG,
            OptionalBehaviors.SASL_AFTER_REGISTRATION,
            OptionalBehaviors.SASL_REAUTHENTICATION,
        )
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.accounts: List[Tuple[str, str]] = []
        self.arguments: List[str] = []

    def create_config(self) -> None:
        super().create_config()

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: Optional[str],
        ssl: bool,
        run_services: bool,
        faketime: Optional[str],
        websocket_hostname: Optional[str],
        websocket_port: Optional[int],
    ) -> None:
        if (websocket_hostname is not None or websocket_port is not None) and not self._supports_option("--web-port"):
            raise NotImplementedByController("Websocket")
        if password is not None:
            raise NotImplementedByController("PASS command")
        assert self.proc is None
        self.port = port
        self.hostname = hostname
        self.create_config()
        assert self.directory
        arguments = [
            "run", "--standalone", "--host", hostname, "--server-name", "My.Little.Server",
            "--history-on-join", "0", "--data-dir", str(self.directory / "data"),
        ]
        if ssl:
            self.gen_ssl()
            (plain_hostname, plain_port) = self.get_hostname_and_port()
            arguments += [
                "--port", str(plain_port), "--tls-port", str(port),
                "--tls-cert", str(self.pem_path), "--tls-key", str(self.key_path),
            ]
        else:
            arguments += ["--port", str(port), "--no-tls"]
        self.sync_sleep_time = 0.0
        if websocket_port is not None:
            # IRC over WebSocket (plain HTTP: the test connects with ws://). A frame reaches the IRC core through
            # Hummingbird's async inbound stream, a hop behind a TCP line sent at the same moment; the WebSocket
            # tests check one client's line against another client's synchronising PING, so they get the short
            # settling pause other controllers use throughout (Sable 0.1 s).
            self.sync_sleep_time = 0.05
            arguments += ["--web-host", websocket_hostname or hostname, "--web-port", str(websocket_port)]
        if self._supports_option("--oper"):
            # irctest's operator credentials (see the other controllers).
            arguments += ["--oper", "operuser:operpassword"]
        self.accounts = []
        self.accounts_file = self.directory / "accounts.txt"
        self.accounts_file.write_text("")
        if self._supports_option("--sasl-accounts-file"):
            arguments += ["--sasl-accounts-file", str(self.accounts_file)]
        if self._supports_option("--allow-registration"):
            # IRCv3 account registration, as the test asks for it.
            arguments += ["--allow-registration"]
            if not self.test_config.account_registration_before_connect:
                arguments += ["--registration-after-connect"]
            if self.test_config.account_registration_requires_email:
                arguments += ["--registration-requires-email"]
        self.arguments = arguments
        self._start()

    @staticmethod
    def _binary() -> str:
        return os.environ.get("PEARIRCD") or shutil.which("pearircd") or "pearircd"

    @classmethod
    def _supports_option(cls, option: str) -> bool:
        if not hasattr(cls, "_help"):
            result = subprocess.run([cls._binary(), "run", "--help"], capture_output=True, text=True)
            cls._help = result.stdout + result.stderr
        return option in cls._help

    def _start(self) -> None:
        binary = self._binary()
        accounts = [argument for (name, password) in self.accounts
                    for argument in ("--sasl-account", f"{name}:{password}")]
        self.proc = self.execute([binary, *self.arguments, *accounts])
        _started.append(self.proc)

    def registerUser(
        self,
        case: cases.BaseServerTestCase,  # type: ignore
        username: str,
        password: Optional[str] = None,
    ) -> None:
        if password is None:
            raise NotImplementedByController("account registration without a password")
        if self._supports_option("--sasl-accounts-file"):
            with open(self.accounts_file, "a") as accounts:
                accounts.write(f"{username}:{password}\n")
            return
        if case.clients:
            # A restart would drop the clients the test already connected.
            raise NotImplementedByController("account registration while clients are connected")
        self.accounts.append((username, password))
        self.kill_proc()
        self.port_open = False
        self._start()
        self.wait_for_port()

    def wait_for_services(self) -> None:
        # Accounts live in the server itself; there is nothing else to wait for.
        pass


def get_irctest_controller_class() -> Type[PearircdController]:
    return PearircdController
