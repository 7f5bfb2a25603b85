"""Hostile variants of every built-in layout's own files, generated from the files: each token of each
line of each label file (empty, negative, huge, wrong type, a float where an integer goes, not finite), a
field dropped or added per line, an empty file, bytes that are not UTF-8, label-carrying file names, a bad
image, and filesystem faults (a link loop, an unreadable file, an image too large to decode).

Each runs ``dabench data prepare <id>`` through ``dabench.cli.main`` and must either succeed with sane
arrays (a value the layout legitimately takes) or exit 2 with one ``dabench: error:`` line that names the
file (and its line, where it has lines) and no traceback, nor the "bug in the dataset's code" message."""

from __future__ import annotations

import builtins
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from native_fixtures import face_array, grey_of, write_image
from PIL import Image

from dabench.cli import main
from dabench.host.registry import get_registry

HUGE = "100000000000000000000"  # 10**20
VALUES = ("", "-1", HUGE, "abc", "1.5", "nan")  # each token of each line becomes each of these
TOKEN = re.compile(r'[^,;\s()"]+')  # a field, or one number of a field that holds several (a box, pixels)
EDGE_TOKENS = 2  # a line with many tokens (2,304 pixels) gets its first and last two mutated


@dataclass
class Layout:
    """A valid tiny folder of dataset ``id``: its label files (paths in the dataset folder), its images,
    and the files whose names carry the labels."""

    id: str
    build: Callable[[Path], None]
    label_files: tuple[str, ...] = ()
    named_files: tuple[str, ...] = ()  # files whose names are labels (JAFFE, CK+48)
    image: str = ""  # one image the layout reads
    lists_images: bool = True  # False: the images are found by the names its label files give
    tags: dict[str, str] = field(default_factory=dict)


def fer2013_csv(folder: Path) -> None:
    lines = ["emotion,pixels,Usage"]
    for code, usage in ((3, "Training"), (5, "PrivateTest"), (1, "PublicTest")):
        lines.append(f"{code},{' '.join(map(str, face_array(48, 48, None, grey_of(code)).ravel()))},{usage}")
    folder.mkdir(parents=True)
    (folder / "fer2013.csv").write_text("\n".join(lines) + "\n")


def fer2013_folders(folder: Path) -> None:
    for relative, code in (("train/happy/Training_1.jpg", 3), ("test/sad/PrivateTest_1.jpg", 4)):
        write_image(folder / relative, 48, 48, grey_of(code))


def ckplus_original(folder: Path) -> None:
    for subject, code in (("S005", 3), ("S010", 5)):
        for frame in (1, 2):
            write_image(folder / "cohn-kanade-images" / subject / "001" / f"{subject}_001_{frame:08d}.png", 64, 64,
                        grey_of(code))
        emotion = folder / "Emotion" / subject / "001"
        emotion.mkdir(parents=True)
        (emotion / f"{subject}_001_00000002_emotion.txt").write_text(f"   {code:.7e}\n")


def ckplus_folders(folder: Path) -> None:
    write_image(folder / "happy" / "S005_001_00000011.png", 48, 48, grey_of(3))
    write_image(folder / "sadness" / "S010_001_00000011.png", 48, 48, grey_of(4))


def expw(folder: Path) -> None:
    lines = []
    for name, code in (("photo_0.png", 3), ("photo_1.png", 5)):
        write_image(folder / "image" / "origin" / name, 100, 80, grey_of(code), box=(10, 20, 70, 75), rgb=True)
        lines.append(f"{name} 0 20 10 70 75 0.97 {code}")  # image face_id top left right bottom confidence label
    (folder / "label").mkdir()
    (folder / "label" / "label.lst").write_text("\n".join(lines) + "\n")


def rafdb_aligned(folder: Path) -> None:
    for name, code in (("train_00001.jpg", 5), ("test_0001.jpg", 2)):
        write_image(folder / "Image" / "aligned" / name.replace(".jpg", "_aligned.jpg"), 40, 40, grey_of(code))
    (folder / "EmoLabel").mkdir(parents=True)
    (folder / "EmoLabel" / "list_patition_label.txt").write_text("train_00001.jpg 5\ntest_0001.jpg 2\n")


def rafdb_original(folder: Path) -> None:
    (folder / "Annotation" / "boundingbox").mkdir(parents=True)
    for stem, code in (("train_00001", 3), ("test_0001", 6)):
        write_image(folder / "Image" / "original" / f"{stem}.jpg", 90, 80, grey_of(code), box=(20, 10, 70, 60))
        (folder / "Annotation" / "boundingbox" / f"{stem}_boundingbox.txt").write_text("20.0 10.0 70.0 60.0\n")
    (folder / "EmoLabel").mkdir()
    (folder / "EmoLabel" / "list_patition_label.txt").write_text("train_00001.jpg 3\ntest_0001.jpg 6\n")


def afe(folder: Path) -> None:
    (folder / "annos" / "TrainTest").mkdir(parents=True)
    for list_name, relative, code in (("Train.csv", "p1/a.jpg", 4), ("Test.csv", "p2/b.jpg", 5)):
        write_image(folder / "src" / "image" / relative, 80, 60, grey_of(code), box=(10, 5, 60, 55))
        header = "path left top right bottom emotion\n" if list_name == "Train.csv" else ""
        (folder / "annos" / "TrainTest" / list_name).write_text(f"{header}{relative} 10 5 60 55 {code}\n")


def affectnet(folder: Path) -> None:
    lists = folder / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True)
    header = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal\n"
    for list_name, relative, code in (("training.csv", "1/a.jpg", 1), ("validation.csv", "2/b.jpg", 3)):
        write_image(folder / "Manually_Annotated_Images" / relative, 70, 60, grey_of(code), box=(10, 5, 60, 55))
        (lists / list_name).write_text((header if list_name == "training.csv" else "")
                                       + f"{relative},10,5,50,50,1.5;2.5;3.5,{code},0.5,-0.2\n")


def ferplus(folder: Path) -> None:
    for number, (split_dir, votes) in enumerate((("FER2013Train", "0,8,1,0,0,0,0,0,1,0"),
                                                 ("FER2013Valid", "6,0,0,4,0,0,0,0,0,0"),
                                                 ("FER2013Test", "0,0,0,0,7,3,0,0,0,0"))):
        image = f"fer{number:07d}.png"
        write_image(folder / split_dir / image, 48, 48, grey_of(number))
        (folder / split_dir / "label.csv").write_text(f'{image},"(0, 0, 48, 48)",{votes}\n')


def jaffe(folder: Path) -> None:
    write_image(folder / "KA.AN1.39.tiff", 64, 64, grey_of(0))
    write_image(folder / "KM.HA2.40.tiff", 64, 64, grey_of(3))


def sfew(folder: Path) -> None:
    write_image(folder / "Train" / "Happy" / "a.png", 40, 40, grey_of(3), rgb=True)
    write_image(folder / "Val" / "Sad" / "b.png", 40, 40, grey_of(4), rgb=True)


LAYOUTS = [
    Layout("fer2013", fer2013_csv, ("fer2013.csv",)),
    Layout("fer2013", fer2013_folders, named_files=("train/happy",), image="train/happy/Training_1.jpg",
           tags={"name": "folders"}),
    Layout("ckplus", ckplus_original, ("Emotion/S005/001/S005_001_00000002_emotion.txt",),
           image="cohn-kanade-images/S005/001/S005_001_00000002.png", tags={"name": "original"}),
    Layout("ckplus", ckplus_folders, named_files=("happy/S005_001_00000011.png", "happy"),
           image="happy/S005_001_00000011.png", tags={"name": "ck48"}),
    Layout("expw", expw, ("label/label.lst",), image="image/origin/photo_0.png"),
    Layout("rafdb", rafdb_aligned, ("EmoLabel/list_patition_label.txt",), image="Image/aligned/train_00001_aligned.jpg",
           tags={"name": "aligned"}),
    Layout("rafdb", rafdb_original, ("Annotation/boundingbox/train_00001_boundingbox.txt",),
           image="Image/original/train_00001.jpg", tags={"name": "original"}),
    Layout("afe", afe, ("annos/TrainTest/Train.csv", "annos/TrainTest/Test.csv"), image="src/image/p1/a.jpg",
           lists_images=False),
    Layout("affectnet", affectnet, ("Manually_Annotated_file_lists/training.csv",
                                    "Manually_Annotated_file_lists/validation.csv"),
           image="Manually_Annotated_Images/1/a.jpg", lists_images=False),
    Layout("ferplus", ferplus, ("FER2013Train/label.csv", "FER2013Valid/label.csv", "FER2013Test/label.csv"),
           image="FER2013Train/fer0000000.png", lists_images=False),
    Layout("jaffe", jaffe, named_files=("KA.AN1.39.tiff",), image="KA.AN1.39.tiff"),
    Layout("sfew", sfew, named_files=("Train/Happy",), image="Train/Happy/a.png"),
]


@dataclass(frozen=True)
class Variant:
    """One hostile change: ``what`` in words, the file it touches and the line (0: none) the message must
    name, and how to apply it to a dataset folder."""

    what: str
    file: str
    line: int
    apply: Callable[[Path], None]


def line_variants(relative: str, data: bytes) -> Iterator[Variant]:
    """Every token of every line replaced by each of VALUES; each line with its last field dropped and an
    extra one added; the whole file emptied; a byte that is not UTF-8."""
    text = data.decode()
    lines = text.splitlines(keepends=True)

    def writer(new_text: str | bytes) -> Callable[[Path], None]:
        content = new_text.encode() if isinstance(new_text, str) else new_text
        return lambda folder: (folder / relative).write_bytes(content)

    seen = {text}
    for index, line in enumerate(lines):
        number = index + 1
        body = line.rstrip("\r\n")
        tokens = list(TOKEN.finditer(body))
        if len(tokens) > 2 * EDGE_TOKENS + 2:
            tokens = tokens[:EDGE_TOKENS] + tokens[-EDGE_TOKENS:]
        separator = "," if "," in body else " "
        changed = []
        for token in tokens:
            for value in VALUES:
                changed.append((f"token {token.group()!r} -> {value!r}",
                                body[:token.start()] + value + body[token.end():]))
        last = max((body.rfind(","), body.rfind(" ")))
        changed.append(("last field dropped", body[:last] if last > 0 else ""))
        changed.append(("extra field", body + separator + "7"))
        for what, new_body in changed:
            new_text = "".join(lines[:index]) + new_body + line[len(body):] + "".join(lines[index + 1:])
            if new_text not in seen:
                seen.add(new_text)  # a line left blank is skipped by every reader: no line to name
                yield Variant(f"{relative} line {number}: {what}", relative, number if new_body.strip() else 0,
                              writer(new_text))
    yield Variant(f"{relative}: empty file", relative, 0, writer(b""))
    yield Variant(f"{relative}: not UTF-8", relative, 1, writer(b"\xff" + data))


def name_variants(relative: str) -> Iterator[Variant]:
    """Each token of a label-carrying file or folder name replaced by each of VALUES (a suffix kept)."""
    directory, _, name = relative.rpartition("/")
    stem, dot, suffix = name.rpartition(".") if "." in name else (name, "", "")
    for token in TOKEN.finditer(stem.replace(".", " ").replace("_", " ")):
        for value in VALUES:
            new_name = stem[:token.start()] + value + stem[token.end():] + dot + suffix
            if new_name not in (name, "") and "/" not in new_name:
                new = f"{directory}/{new_name}" if directory else new_name

                def rename(folder: Path, old: str = relative, new: str = new) -> None:
                    (folder / old).rename(folder / new)

                yield Variant(f"file name {name} -> {new_name}", new, 0, rename)


def image_variants(relative: str, data: bytes) -> Iterator[Variant]:
    """An image that is empty, truncated, not an image, or a folder."""
    for what, content in (("empty image", b""), ("truncated image", data[:len(data) // 2]),
                          ("not an image", b"GIF89a? no: these are words\n" * 4)):
        yield Variant(f"{relative}: {what}", relative, 0,
                      lambda folder, content=content: (folder / relative).write_bytes(content))


def run_prepare(dataset_id: str, root: Path, capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(["data", "prepare", dataset_id, "--data-root", str(root), *options])
    except SystemExit as exit_info:
        code = exit_info.code if isinstance(exit_info.code, int) else 1
    else:
        code = 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def problem(layout: Layout, variant: Variant, code: int, out: str, err: str, valid_total: int) -> str:
    """What is wrong with how ``dabench data prepare`` met ``variant``, or "" when nothing is."""
    if code == 0:
        match = re.search(r"prepared at \d+ px \((.*)\) in (\S+)$", out.strip())
        if match is None:
            return f"exit 0 but no prepared line: {out!r}"
        target = Path(match.group(2))
        total = 0
        classes = len(get_registry().dataset(layout.id).classes)
        for labels_file in target.glob("*_labels.npy"):
            labels = np.load(labels_file)
            images = np.load(labels_file.with_name(labels_file.name.replace("_labels", "_images")))
            if len(images) != len(labels) or images.dtype != np.uint8 or (len(labels) and not
                                                                            0 <= labels.min() <= labels.max() < classes):
                return f"exit 0 with insane arrays in {target}"
            total += len(labels)
        if total > valid_total:
            return f"exit 0 with {total} images from a layout of {valid_total}"
        return ""
    if code != 2:
        return f"exit {code}: {err[-400:]!r}"
    if "Traceback" in err or err.count("dabench: error:") != 1 or not err.startswith("dabench: error:"):
        return f"not one message: {err[-600:]!r}"
    if " raised " in err and "bug in the dataset" in err:
        return f"reported as a bug in the plugin: {err.splitlines()[0]!r}"
    if variant.file not in err:
        return f"does not name {variant.file}: {err.splitlines()[0]!r}"
    if variant.line and f"line {variant.line} of {variant.file}" not in err:
        return f"does not name line {variant.line} of {variant.file}: {err.splitlines()[0]!r}"
    return ""


def walk(layout: Layout, root: Path, variants: list[Variant], capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Run every variant on a fresh copy of the layout's files (restored after each); the problems found."""
    folder = root / layout.id
    code, out, err = run_prepare(layout.id, root, capsys)
    assert code == 0, f"the valid {layout.id} layout does not prepare: {err}"
    valid_total = sum(int(n) for n in re.findall(r"\w+ (\d+)", out.split(" px (")[1].split(")")[0]))
    saved = {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}
    saved_folders = {path for path in folder.rglob("*") if path.is_dir()}
    problems = []
    for variant in variants:
        variant.apply(folder)
        code, out, err = run_prepare(layout.id, root, capsys)
        found = problem(layout, variant, code, out, err, valid_total)
        if found:
            problems.append(f"{variant.what}: {found}")
        for directory, folders, files in os.walk(folder, topdown=False):  # links are not followed
            for name in files + folders:
                path = Path(directory) / name
                if path.is_symlink() or (path.is_file() and path not in saved):
                    path.unlink()
                elif path.is_dir() and path not in saved_folders:
                    path.rmdir()
        for path, data in saved.items():
            if not path.is_file() or path.read_bytes() != data:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
    return problems


def layout_id(layout: Layout) -> str:
    return "-".join([layout.id, *layout.tags.values()])


@pytest.fixture
def no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every prepare writes its cache records durably; an fsync each is most of a variant's time here, and
    durability is not what these tests check."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.mark.parametrize("layout", LAYOUTS, ids=layout_id)
def test_hostile_values_in_a_layouts_own_files(tmp_path: Path, fresh_home: Path, registry, no_fsync, layout: Layout,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data"
    layout.build(root / layout.id)
    folder = root / layout.id
    variants: list[Variant] = []
    for relative in layout.label_files:
        variants += line_variants(relative, (folder / relative).read_bytes())
    for relative in layout.named_files:
        variants += name_variants(relative)
    if layout.image:
        variants += image_variants(layout.image, (folder / layout.image).read_bytes())
    assert len(variants) >= len(layout.label_files) * (len(VALUES) + 2) + (3 if layout.image else 0)
    problems = walk(layout, root, variants, capsys)
    assert not problems, f"{len(problems)} of {len(variants)} variants:\n" + "\n".join(problems)


def fault_variants(layout: Layout) -> Iterator[Variant]:
    """Filesystem faults beside the layout's image: a link that points at itself, and a folder linked
    into itself (a walk that follows links never ends)."""
    directory = str(Path(layout.image).parent).removeprefix(".")
    prefix = f"{directory}/" if directory else ""

    def self_link(folder: Path) -> None:
        os.symlink("loop.png", folder / prefix / "loop.png")

    def folder_loop(folder: Path) -> None:
        os.symlink(".", folder / prefix / "again", target_is_directory=True)

    yield Variant("a link to itself", f"{prefix}loop.png", 0, self_link)
    yield Variant("a folder linked into itself", f"{prefix}again", 0, folder_loop)


@pytest.mark.parametrize("layout", [layout for layout in LAYOUTS if layout.image], ids=layout_id)
def test_link_loops_beside_the_images(tmp_path: Path, fresh_home: Path, registry, no_fsync, layout: Layout,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data"
    layout.build(root / layout.id)
    variants = list(fault_variants(layout))
    problems = walk(layout, root, variants, capsys)
    assert not problems, "\n".join(problems)
    for variant in variants:  # data check lists the folders itself (no identity walk first)
        variant.apply(root / layout.id)
        with pytest.raises(SystemExit) as exit_info:
            main(["data", "check", layout.id, "--data-root", str(root)])
        out, err = capsys.readouterr()
        (root / layout.id / variant.file).unlink()
        if exit_info.value.code == 0 and (not layout.lists_images or variant.file.endswith("again")):
            continue  # a layout that names its images in lists never opens it, nor a folder where none is sought
        assert exit_info.value.code == 2 and "Traceback" not in err and err.count("dabench: error:") == 1, out + err
        assert variant.file in err, err


def refuse_to_open(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """``open(path)`` raises PermissionError, as for a file mode 000 when not root (pathlib, numpy and the
    hashing all open through io.open / builtins.open)."""
    real_open = io.open

    def guarded(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and Path(file) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", guarded)
    monkeypatch.setattr(builtins, "open", guarded)


@pytest.mark.parametrize("layout", LAYOUTS, ids=layout_id)
def test_an_unreadable_label_file_or_image(tmp_path: Path, fresh_home: Path, registry, no_fsync, layout: Layout,
                                           capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "data"
    layout.build(root / layout.id)
    assert run_prepare(layout.id, root, capsys)[0] == 0  # the folder's identity is remembered: files are not re-read
    for relative in (*layout.label_files, *([layout.image] if layout.image else [])):
        for resolution, home in ((40, fresh_home), (44, tmp_path / f"home-{relative.replace('/', '-')}")):
            # a new resolution: the dataset reads its files; a new home: the identity hashes them first
            with monkeypatch.context() as patch:
                patch.setenv("DABENCH_HOME", str(home))
                refuse_to_open(patch, root / layout.id / relative)
                code, out, err = run_prepare(layout.id, root, capsys, "--resolution", str(resolution))
            variant = Variant(f"{relative} unreadable", relative, 0, lambda folder: None)
            assert problem(layout, variant, code, out, err, 0) == "" and code == 2, err
            assert "Permission denied" in err, err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000 anyway; "
                                              "test_an_unreadable_label_file_or_image simulates it")
@pytest.mark.parametrize("layout", [layout for layout in LAYOUTS if layout.label_files], ids=layout_id)
def test_a_label_file_of_mode_000(tmp_path: Path, fresh_home: Path, registry, layout: Layout,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data"
    layout.build(root / layout.id)
    path = root / layout.id / layout.label_files[0]
    path.chmod(0)
    try:
        code, out, err = run_prepare(layout.id, root, capsys)
    finally:
        path.chmod(0o644)
    assert code == 2 and "Traceback" not in err and "Permission denied" in err and layout.label_files[0] in err, err


@pytest.mark.parametrize("layout", [layout for layout in LAYOUTS if layout.image], ids=layout_id)
def test_an_image_too_large_to_decode(tmp_path: Path, fresh_home: Path, registry, no_fsync, layout: Layout,
                                      capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """As a 20,000 x 20,000 PNG meets PIL's default limit: every test image is over twice this one's."""
    root = tmp_path / "data"
    layout.build(root / layout.id)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300)
    code, out, err = run_prepare(layout.id, root, capsys)
    assert code == 2 and "Traceback" not in err and err.count("dabench: error:") == 1, err
    assert "too large to decode safely" in err and layout.image in err, err
