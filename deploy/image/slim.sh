#!/bin/sh
# Removes from the image's virtual environment what Mizual never loads at run time: the
# installers, test suites, headers and type stubs, the API models of every AWS service but S3
# and STS, and debug symbols. The Dockerfile imports every runtime module afterwards, so a
# removal that breaks something fails the build rather than a deploy.
set -eu
venv=$1
site=$(echo "$venv"/lib/python3*/site-packages)
before=$(du -sm "$venv" | cut -f1)

# Nothing is installed into a running container (pkg_resources is setuptools' too: nothing
# imports it at run time).
rm -rf "$site"/pip "$site"/pip-* "$site"/setuptools "$site"/setuptools-* \
  "$site"/_distutils_hack "$site"/distutils-precedence.pth "$site"/wheel "$site"/wheel-* \
  "$site"/pkg_resources "$venv"/bin/pip*

# Test suites, C sources and headers, stubs.
find "$site" -depth -type d \( -name tests -o -name __pycache__ \) -exec rm -rf {} +
find "$site" -type f \( -name '*.pyi' -o -name '*.pxd' -o -name '*.pyx' -o -name '*.c' \
  -o -name '*.h' -o -name '*.cpp' \) -delete
rm -rf "$site"/numpy/_core/include "$site"/numpy/f2py "$site"/numpy/_pyinstaller \
  "$site"/numpy/doc "$site"/numpy/distutils
# NumPy's own test extensions (its _simd module only serves its tests).
rm -f "$site"/numpy/_core/_simd.*.so "$site"/numpy/_core/_*_tests.*.so

# OpenCV's Haar cascades: Mizual finds faces with the default frontal one only
# (mizual/localedit/subject.py, FACE_CASCADE).
if [ -f "$site/cv2/data/haarcascade_frontalface_default.xml" ]; then
  find "$site/cv2/data" -name 'haarcascade_*.xml' \
    -not -name haarcascade_frontalface_default.xml -delete
fi

# OpenCV's video I/O (FFmpeg), AVIF and LAPACK libraries become stubs (about 83 MB), and
# Pillow's X11 screen grab (libxcb, libXau) too; Pillow loses its AVIF, font and Tk modules
# with the libraries only they need (libavif, FreeType, HarfBuzz): pyvips reads and writes
# images, Pillow only opens BMPs.
here=$(dirname "$0")
"$venv"/bin/python "$here"/opencv_stubs.py "$venv" opencv pillow
"$venv"/bin/python "$here"/prune_libs.py "$site" PIL pillow.libs \
  '_avif.*.so' '_imagingft.*.so' '_imagingtk.*.so'

# botocore ships the API model of every AWS service (about 25 MB); Mizual talks to S3 only,
# and to STS and SSO when boto3's credential chain needs them.
if [ -d "$site/botocore/data" ]; then
  for service in "$site"/botocore/data/*/; do
    case $(basename "$service") in
      s3 | sts | sso | sso-oidc) ;;
      *) rm -rf "$service" ;;
    esac
  done
fi
if [ -d "$site/boto3/data" ]; then
  for service in "$site"/boto3/data/*/; do
    [ "$(basename "$service")" = s3 ] || rm -rf "$service"
  done
fi

# Test helpers that only test suites import; WcWidth's optional C accelerator (it falls back
# to Python, and only prompt_toolkit's REPL, never used here, measures text with it).
rm -rf "$site"/sqlalchemy/testing "$site"/alembic/testing "$site"/wcwidth/_wcwidth_c*.so
# botocore reads its data files gzipped as well (its S3 model already is).
if [ -f "$site/botocore/data/endpoints.json" ]; then
  gzip -9 "$site/botocore/data/endpoints.json"
fi

# psycopg-binary's OpenSSL and Kerberos: Debian's, which python3 depends on, instead (8 MB).
"$venv"/bin/python "$here"/system_libs.py "$venv" psycopg_binary.libs \
  'import psycopg, psycopg_binary.pq; assert psycopg.pq.__impl__ == "binary", psycopg.pq.__impl__' \
  libssl libcrypto libgssapi_krb5 libkrb5 libk5crypto libkrb5support libkeyutils libcom_err

# Debug symbols. Libraries that auditwheel bundled (the *.libs folders) are left alone: they
# are stripped already, and strip can corrupt files that patchelf has rewritten (NumPy's
# OpenBLAS, which still has a 2 MB symbol table, stripped by bookworm's binutils: "ELF load
# command address/offset not page-aligned").
find "$site" -name '*.so*' -type f -not -path '*.libs/*' -exec strip --strip-unneeded {} + \
  2>/dev/null || true

after=$(du -sm "$venv" | cut -f1)
echo "slim: $venv from ${before} MB to ${after} MB"
