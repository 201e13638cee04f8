# Thin wrapper over CMake/CTest. Variables: BUILD (build directory), TYPE (CMake
# build type), MEDIFY_SANITIZE (e.g. address,undefined), JOBS.
BUILD ?= build
TYPE ?= RelWithDebInfo
JOBS ?= 2
MEDIFY_SANITIZE ?=
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=$(TYPE) -DMEDIFY_SANITIZE=$(MEDIFY_SANITIZE)

.PHONY: all build test demo deps kb-check lint format format-check bench bench-deps bench-vector bench-fts5 vignettes vignettes-holdout fuzz clean

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

# Every test: unit, golden suites (red flags, vignettes), CLI, corrupt inputs.
test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

demo: build
	./$(BUILD)/medify demo

deps:
	./scripts/install-deps.sh

kb-check: build
	./$(BUILD)/medify kb check --kb data/kb

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
	  --inline-suppr --suppress=missingIncludeSystem -I include -I src src tools

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

bench: build
	./$(BUILD)/bench/bench_assess

# Reference tools the benchmarks compare against (hnswlib, FAISS, wrk).
bench-deps:
	./scripts/install-deps.sh scripts/debian-packages-bench.txt

# Lexical search: medify's BM25 index against SQLite FTS5 bm25() on the same synthetic
# cases and queries, and the tokens each gives for medical strings.
bench-fts5:
	cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release -DMEDIFY_ENGINE=OFF
	cmake --build build-rel -j$(JOBS) --target bench_fts5
	./build-rel/bench/bench_fts5 --tokens
	./build-rel/bench/bench_fts5 167034 1000 10

# Vector search: medify, hnswlib and FAISS on the same Gaussian-mixture data (N vectors).
N ?= 100000
bench-vector:
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DMEDIFY_ENGINE=OFF -DMEDIFY_BENCH_COMPARE=ON
	cmake --build build-bench -j$(JOBS) --target bench_vector bench_vector_hnswlib bench_vector_faiss
	./build-bench/bench/bench_vector --n $(N) --write-data build-bench/vectors.bin | tee build-bench/vector-medify.jsonl
	./build-bench/bench/compare/bench_vector_hnswlib build-bench/vectors.bin build-bench/vector-medify.jsonl
	./build-bench/bench/compare/bench_vector_faiss build-bench/vectors.bin build-bench/vector-medify.jsonl

# Prints the vignette report (emergency recall, triage accuracy, top-1/3/10).
vignettes: build
	./$(BUILD)/tests/golden/test_vignettes --report

# The held-out suite: written independently and never used for tuning.
vignettes-holdout: build
	./$(BUILD)/tests/golden/test_vignettes --holdout
	./$(BUILD)/tests/golden/test_vignettes --blind

fuzz:
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DMEDIFY_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
	  -DMEDIFY_SANITIZE=address,undefined
	cmake --build build-fuzz -j$(JOBS)

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-bench
