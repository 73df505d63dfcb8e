# One image for every Tdjaasa process (api, worker, ingress): the command selects the role.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin tdjaasa

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 tdjaasa
COPY --from=build /src/target/release/tdjaasa /usr/local/bin/tdjaasa
USER tdjaasa
ENV TDJ_ENV=production LOG_FORMAT=json HTTP_ADDR=0.0.0.0:8080
ENTRYPOINT ["tdjaasa"]
CMD ["api"]
