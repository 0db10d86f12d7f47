"""The primary file ``spark-submit`` runs in the image: ``rwa`` with the arguments after it.

A file of its own, outside the package: running ``pipelines/cli.py`` as a script would put
``pipelines/`` first on ``sys.path``, where ``pipelines/kafka`` would shadow the ``kafka``
package.
"""

from pipelines.cli import run

run()
