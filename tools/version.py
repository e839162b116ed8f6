#!/usr/bin/env python3
"""Print the version from the CLSDE_VERSION_* macros in include/clsde.h (meson reads it)."""
import os
import re

here = os.path.dirname(os.path.abspath(__file__))
text = open(os.path.join(here, '..', 'include', 'clsde.h'), encoding='utf-8').read()
parts = [re.search(r'#define CLSDE_VERSION_%s (\d+)' % k, text).group(1)
         for k in ('MAJOR', 'MINOR', 'PATCH')]
print('.'.join(parts))
