// FAISS IndexHNSWFlat (Debian libfaiss-dev) on the data bench_vector wrote: same M,
// efConstruction and efSearch sweep, one OpenMP thread for the build and the
// searches. Queries go one at a time (index.search with n = 1) so that QPS means
// the same as for medify and hnswlib. Prints JSON lines and the ratios to medify's.
//
//   bench_vector_faiss DATA MEDIFY_JSONL [M] [EF_CONSTRUCTION] [EF_LIST]
#include <faiss/IndexHNSW.h>
#include <omp.h>

#include "common.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s DATA MEDIFY_JSONL [M] [EF_CONSTRUCTION] [EF_LIST]\n", argv[0]);
        return 64;
    }
    BenchData d;
    if (!read_data(argv[1], d)) {
        std::fprintf(stderr, "cannot read %s\n", argv[1]);
        return 65;
    }
    int m = argc > 3 ? std::atoi(argv[3]) : 16, efc = argc > 4 ? std::atoi(argv[4]) : 200;
    std::vector<int> efs = parse_efs(argc > 5 ? argv[5] : "10,16,24,32,48,64,96,128,192,256,384,512");
    MedifyResults md = read_medify(argv[2]);
    omp_set_num_threads(1);

    size_t rss0 = rss_bytes();
    double t0 = now_s();
    faiss::IndexHNSWFlat index(static_cast<int>(d.dim), m); // METRIC_L2
    index.hnsw.efConstruction = efc;
    index.add(static_cast<faiss::Index::idx_t>(d.n), d.base.data());
    double build_s = now_s() - t0;
    std::printf("{\"bench\":\"vector\",\"event\":\"build\",\"lib\":\"faiss\",\"n\":%zu,\"m\":%d,"
                "\"ef_construction\":%d,\"build_s\":%.2f,\"rss_growth_bytes\":%zu,\"threads\":1}\n",
                static_cast<size_t>(d.n), m, efc, build_s, rss_bytes() - rss0);
    std::fflush(stdout);

    std::map<int, std::pair<double, double>> by_ef;
    std::vector<int64_t> labels(d.n_queries * d.k);
    std::vector<float> dist(d.k);
    std::vector<faiss::Index::idx_t> ids(d.k);
    for (int ef : efs) {
        index.hnsw.efSearch = ef;
        t0 = now_s();
        for (size_t q = 0; q < d.n_queries; q++) {
            index.search(1, &d.queries[q * d.dim], d.k, dist.data(), ids.data());
            for (size_t i = 0; i < d.k; i++)
                labels[q * d.k + i] = ids[i];
        }
        double qps = static_cast<double>(d.n_queries) / (now_s() - t0);
        double r = recall(d, labels);
        by_ef[ef] = {qps, r};
        std::printf("{\"bench\":\"vector\",\"event\":\"search\",\"lib\":\"faiss\",\"n\":%zu,\"ef_search\":%d,"
                    "\"qps\":%.1f,\"recall_at_k\":%.4f,\"k\":%u,\"threads\":1}\n",
                    static_cast<size_t>(d.n), ef, qps, r, d.k);
        std::fflush(stdout);
    }
    print_summary("faiss", 0.95, by_ef, build_s, md);
    print_summary("faiss", 0.99, by_ef, build_s, md);
    return 0;
}
