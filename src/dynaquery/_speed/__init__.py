"""Speed work that the rest of the code relies on, in one place.

Each module names the benchmark (bench/, docs/performance.md) that justifies it; nothing here
changes a result, only how fast it comes:

- codec.py           the C module `_codec` for the value conversion (1a, 1b; 2a and 3 use it)
- botocore_hooks.py  scan pages read past botocore's parser, batch writes past its serializer
                     (2a, 2b, 3)
- botocore_data.py   botocore's data files parsed once and cached (5, cold start)
- gc.py              the garbage collector off while a command starts (5, cold start)
"""
