// hnswlib (Debian libhnswlib-dev, header-only) on the data bench_vector wrote:
// same M, ef_construction and ef_search sweep, single-thread build and queries one
// at a time. Prints JSON lines like bench_vector's, then the ratios to medify's.
//
//   bench_vector_hnswlib DATA MEDIFY_JSONL [M] [EF_CONSTRUCTION] [EF_LIST]
#include <hnswlib/hnswlib.h>

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

    hnswlib::L2Space space(d.dim);
    size_t rss0 = rss_bytes();
    double t0 = now_s();
    hnswlib::HierarchicalNSW<float> index(&space, d.n, m, efc, 100);
    for (size_t i = 0; i < d.n; i++)
        index.addPoint(&d.base[i * d.dim], i);
    double build_s = now_s() - t0;
    std::printf("{\"bench\":\"vector\",\"event\":\"build\",\"lib\":\"hnswlib\",\"n\":%zu,\"m\":%d,"
                "\"ef_construction\":%d,\"build_s\":%.2f,\"rss_growth_bytes\":%zu,\"threads\":1}\n",
                static_cast<size_t>(d.n), m, efc, build_s, rss_bytes() - rss0);
    std::fflush(stdout);

    std::map<int, std::pair<double, double>> by_ef;
    std::vector<int64_t> labels(d.n_queries * d.k);
    for (int ef : efs) {
        index.setEf(static_cast<size_t>(ef));
        t0 = now_s();
        for (size_t q = 0; q < d.n_queries; q++) {
            auto res = index.searchKnn(&d.queries[q * d.dim], d.k);
            for (size_t i = d.k; i-- > 0;) { // the queue pops the farthest first
                labels[q * d.k + i] = res.empty() ? -1 : static_cast<int64_t>(res.top().second);
                if (!res.empty()) res.pop();
            }
        }
        double qps = static_cast<double>(d.n_queries) / (now_s() - t0);
        double r = recall(d, labels);
        by_ef[ef] = {qps, r};
        std::printf("{\"bench\":\"vector\",\"event\":\"search\",\"lib\":\"hnswlib\",\"n\":%zu,\"ef_search\":%d,"
                    "\"qps\":%.1f,\"recall_at_k\":%.4f,\"k\":%u,\"threads\":1}\n",
                    static_cast<size_t>(d.n), ef, qps, r, d.k);
        std::fflush(stdout);
    }
    print_summary("hnswlib", 0.95, by_ef, build_s, md);
    print_summary("hnswlib", 0.99, by_ef, build_s, md);
    return 0;
}
