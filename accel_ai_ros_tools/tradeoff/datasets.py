# Copyright 2026 The accel_ai_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Evaluation data sets for the trade-off benchmark; each sample is a DecodedImage + truth.

- ``digits``: the demo's held-out split (:func:`~accel_ai_ros_tools.digits.held_out_digits`),
  mono 8x8 images with their digit labels: the same images the demo manifest scores.
- ``skimage``: photos that ship with scikit-image (no labels) plus mosaics of its LFW face
  crops, for agreement runs of detectors.
- a folder with one sub-folder per class (labels from the folder names, or their positions in
  a labels file), or a flat folder of images (no labels).
- COCO-style detection annotations (``images``, ``annotations`` with ``bbox`` as
  ``[x, y, width, height]``, ``categories``) and the folder of their images.
"""

from dataclasses import dataclass
from dataclasses import field
import json
from pathlib import Path
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence

import cv2
import numpy as np

from accel_ai_ros.errors import ParameterError
from accel_ai_ros.fileio import PathLike
from accel_ai_ros.image_codec import DecodedImage
from accel_ai_ros_tools.tradeoff.metrics import BoxLabel

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.pgm', '.ppm')

#: scikit-image photos used by the ``skimage`` data set (all ship inside the wheel).
SKIMAGE_PHOTOS = ('astronaut.png', 'camera.png', 'coffee.png', 'chelsea.png', 'rocket.jpg',
                  'motorcycle_left.png', 'horse.png', 'coins.png', 'page.png', 'text.png',
                  'moon.png', 'brick.png', 'retina.jpg', 'hubble_deep_field.jpg', 'color.png',
                  'grass.png')
LFW_MOSAICS = 8


@dataclass
class Sample:
    """One image and its ground truth (None when the data set has no labels)."""

    name: str
    image: DecodedImage
    label: Optional[int] = None
    boxes: Optional[List[BoxLabel]] = None


@dataclass
class Dataset:
    """A named list of samples; ``kind`` is 'classification', 'detection' or 'unlabelled'."""

    name: str
    description: str
    kind: str
    samples: List[Sample]
    class_names: List[str] = field(default_factory=list)

    @property
    def labelled(self) -> bool:
        """Return True when the samples carry ground truth."""
        return self.kind != 'unlabelled'

    def describe(self) -> Dict[str, Any]:
        """Return the report's dataset entry."""
        return {'name': self.name, 'description': self.description, 'kind': self.kind,
                'images': len(self.samples), 'labelled': self.labelled,
                'classes': len(self.class_names)}


def read_image(path: PathLike) -> DecodedImage:
    """Read one image file as BGR (or mono for one-channel files); ParameterError if not."""
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.size == 0:
        raise ParameterError(f'cannot read the image {str(path)!r}; is it a PNG/JPEG file?')
    if pixels.dtype != np.uint8:
        peak = max(float(np.max(pixels, axis=None)), 1.0)
        pixels = cv2.convertScaleAbs(pixels, alpha=255.0 / peak)
    if pixels.ndim == 2:
        return DecodedImage(pixels, 'mono')
    if pixels.shape[2] == 4:
        return DecodedImage(pixels, 'bgra')
    return DecodedImage(pixels[:, :, :3], 'bgr')


def _images_in(folder: Path) -> List[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def digits_dataset(seed: int = 0) -> Dataset:
    """Return the demo's held-out digits (mono 8x8, labelled 0..9)."""
    from accel_ai_ros_tools.digits import held_out_digits
    pixels, labels = held_out_digits(seed)
    samples = [Sample(f'digit_{i:04d}', DecodedImage(np.ascontiguousarray(p), 'mono'),
                      label=int(y)) for i, (p, y) in enumerate(zip(pixels, labels))]
    return Dataset('digits', f'scikit-learn digits, held-out split of the demo (seed {seed}, '
                   f'{len(samples)} images)', 'classification', samples,
                   [str(i) for i in range(10)])


def skimage_dataset() -> Dataset:
    """Return scikit-image's bundled photos and mosaics of its LFW face crops (no labels)."""
    try:
        import skimage
    except ImportError as error:
        raise ParameterError(f'scikit-image is not importable ({error}); install it '
                             f'(pip install scikit-image) or pass --dataset DIR') from None
    folder = Path(skimage.__file__).parent / 'data'
    samples = [Sample(name, read_image(folder / name)) for name in SKIMAGE_PHOTOS
               if (folder / name).is_file()]
    lfw = folder / 'lfw_subset.npy'
    if lfw.is_file():
        faces = np.load(lfw)[:100]  # the first 100 crops are faces, the rest are not
        for m in range(LFW_MOSAICS):
            tiles = [cv2.resize(np.clip(f * 255.0, 0, 255).astype(np.uint8), (80, 80),
                                interpolation=cv2.INTER_LINEAR)
                     for f in faces[m * 12:(m + 1) * 12]]
            if len(tiles) < 12:
                break
            rows = [np.hstack(tiles[r * 4:(r + 1) * 4]) for r in range(3)]
            samples.append(Sample(f'lfw_mosaic_{m}', DecodedImage(np.vstack(rows), 'mono')))
    if not samples:
        raise ParameterError(f'no scikit-image photo found under {folder}; reinstall '
                             f'scikit-image or pass --dataset DIR')
    return Dataset('skimage', f'{len(samples)} scikit-image photos and LFW face mosaics '
                   f'(3x4 faces of 80x80), no labels', 'unlabelled', samples)


def _class_index(name: str, labels: Sequence[str], fallback: int) -> int:
    if not labels:
        return fallback
    if name in labels:
        return list(labels).index(name)
    if name.isdigit() and int(name) < len(labels):
        return int(name)
    raise ParameterError(f'class folder {name!r} is not in the labels file ({len(labels)} '
                         f'labels, e.g. {", ".join(list(labels)[:5])}); rename the folder or '
                         f'fix the labels file')


def folder_dataset(root: PathLike, labels: Sequence[str] = (),
                   limit: int = 0) -> Dataset:
    """Return a folder per class (labelled) or a flat folder of images (unlabelled).

    Class folders map to class ids by their position in ``labels`` (by name, or a numeric
    folder name as the index), else by their sorted order. ``limit`` > 0 keeps the first
    images of each class (or of the folder).
    """
    root = Path(root)
    if not root.is_dir():
        raise ParameterError(f'the data set folder {str(root)!r} does not exist; pass digits, '
                             f'skimage or a folder of images')
    classes = sorted(p for p in root.iterdir() if p.is_dir() and _images_in(p))
    if not classes:
        files = _images_in(root)
        if not files:
            raise ParameterError(f'{str(root)!r} holds no image ({", ".join(IMAGE_SUFFIXES)}) '
                                 f'and no class folder of images')
        files = files[:limit] if limit > 0 else files
        return Dataset(root.name, f'{len(files)} images from {root}, no labels',
                       'unlabelled', [Sample(p.name, read_image(p)) for p in files])
    samples: List[Sample] = []
    for position, folder in enumerate(classes):
        index = _class_index(folder.name, labels, position)
        files = _images_in(folder)
        for path in files[:limit] if limit > 0 else files:
            samples.append(Sample(f'{folder.name}/{path.name}', read_image(path), label=index))
    names = list(labels) if labels else [c.name for c in classes]
    return Dataset(root.name, f'{len(samples)} images in {len(classes)} class folders of '
                   f'{root}', 'classification', samples, names)


def coco_dataset(annotations: PathLike, image_dir: Optional[PathLike] = None,
                 labels: Sequence[str] = (), limit: int = 0) -> Dataset:
    """Return COCO-style detection ground truth and its images.

    Category names are mapped to model class ids by their position in ``labels`` when
    ``labels`` names them all; otherwise the category ids are used as class ids. Images are
    looked up under ``image_dir`` (default: the annotation file's folder).
    """
    path = Path(annotations)
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
        images = list(data['images'])
        anns = list(data.get('annotations', []))
        categories = {int(c['id']): str(c['name']) for c in data.get('categories', [])}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ParameterError(f'cannot read COCO annotations {str(path)!r} ({error}); it needs '
                             f'images, annotations and categories') from None
    folder = Path(image_dir) if image_dir else path.parent
    by_name = bool(labels) and all(n in labels for n in categories.values())

    def class_id(category: int) -> int:
        return list(labels).index(categories[category]) if by_name else category

    truth: Dict[int, List[BoxLabel]] = {int(i['id']): [] for i in images}
    for ann in anns:
        x, y, w, h = (float(v) for v in ann['bbox'])
        truth.setdefault(int(ann['image_id']), []).append(BoxLabel(
            x, y, x + w, y + h, class_id(int(ann['category_id'])),
            ignore=bool(ann.get('iscrowd', 0))))
    images = images[:limit] if limit > 0 else images
    samples = [Sample(str(i['file_name']), read_image(folder / str(i['file_name'])),
                      boxes=truth[int(i['id'])]) for i in images]
    names = list(labels) if by_name else [categories[c] for c in sorted(categories)]
    return Dataset(path.stem, f'{len(samples)} images, {sum(len(s.boxes or []) for s in samples)} '
                   f'boxes from {path}', 'detection', samples, names)


def load_dataset(spec: str, annotations: Optional[PathLike] = None,
                 labels: Sequence[str] = (), limit: int = 0) -> Dataset:
    """Return the data set named by ``spec``: 'digits', 'skimage', or a folder."""
    if annotations:
        return coco_dataset(annotations, None if spec in ('', None) else spec, labels, limit)
    if spec == 'digits':
        data = digits_dataset()
    elif spec == 'skimage':
        data = skimage_dataset()
    else:
        return folder_dataset(spec, labels, limit)
    if limit > 0:
        data.samples = data.samples[:limit]
    return data
