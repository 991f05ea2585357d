# safebuild's frontend image: the target of `# syntax=<registry>/safebuild/frontend` for
# docker buildx and buildctl. Nothing is pulled: the static binary is built on the host first
# (`make frontend-image` does both steps), and the image holds only that binary.
FROM scratch
COPY bin/safebuild-frontend /frontend
# The frontend needs no network: secrets reach RUN steps over the client's session, never through it.
LABEL moby.buildkit.frontend.network.none="true"
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts"
ENTRYPOINT ["/frontend"]
