// hnswlib (Debian libhnswlib-dev, header-only) on the data bench_vector wrote:
// same M, ef_construction and ef_search sweep, single-thread build and queries one
// at a time. Prints JSON lines like bench_vector's, then the ratios to medify's.
//
//   bench_vector_hnswlib DATA MEDIFY_JSONL [M] [EF_CONSTRUCTION] [EF_LIST]
//
// With HNSWLIB_INDEX=FILE in the environment the index is loaded from FILE when it
// exists (a "load" line replaces the build) and otherwise built and saved there, so the
// query sweep can be repeated on a quiet machine without another build.
#include <hnswlib/hnswlib.h>

#include <memory>
#include <unistd.h>

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
    std::vector<int> efs = parse_efs(argc > 5 ? argv[5] : "10,16,24,32,48,64,96,128,192,256,384,512,768,1024");
    MedifyResults md = read_medify(argv[2]);

    hnswlib::L2Space space(d.dim);
    const char *index_path = std::getenv("HNSWLIB_INDEX");
    double build_s = 0.0;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> index;
    if (index_path && access(index_path, R_OK) == 0) {
        double t0 = now_s();
        index.reset(new hnswlib::HierarchicalNSW<float>(&space, index_path));
        std::printf("{\"bench\":\"vector\",\"event\":\"load\",\"lib\":\"hnswlib\",\"n\":%zu,\"load_s\":%.3f}\n",
                    static_cast<size_t>(index->cur_element_count), now_s() - t0);
    } else {
        size_t rss0 = rss_bytes();
        double t0 = now_s(), c0 = cpu_s();
        index.reset(new hnswlib::HierarchicalNSW<float>(&space, d.n, m, efc, 100));
        for (size_t i = 0; i < d.n; i++)
            index->addPoint(&d.base[i * d.dim], i);
        build_s = now_s() - t0;
        std::printf("{\"bench\":\"vector\",\"event\":\"build\",\"lib\":\"hnswlib\",\"n\":%zu,\"m\":%d,"
                    "\"ef_construction\":%d,\"build_s\":%.2f,\"build_cpu_s\":%.2f,\"rss_growth_bytes\":%zu,"
                    "\"threads\":1}\n",
                    static_cast<size_t>(d.n), m, efc, build_s, cpu_s() - c0, rss_bytes() - rss0);
        if (index_path) index->saveIndex(index_path);
    }
    std::fflush(stdout);

    std::map<int, std::pair<double, double>> by_ef;
    std::vector<int64_t> labels(d.n_queries * d.k);
    for (int ef : efs) {
        index->setEf(static_cast<size_t>(ef));
        double t_search = now_s(), c_search = cpu_s();
        for (size_t q = 0; q < d.n_queries; q++) {
            auto res = index->searchKnn(&d.queries[q * d.dim], d.k);
            for (size_t i = d.k; i-- > 0;) { // the queue pops the farthest first
                labels[q * d.k + i] = res.empty() ? -1 : static_cast<int64_t>(res.top().second);
                if (!res.empty()) res.pop();
            }
        }
        double qps = static_cast<double>(d.n_queries) / (now_s() - t_search);
        double qps_cpu = static_cast<double>(d.n_queries) / (cpu_s() - c_search);
        double r = recall(d, labels);
        by_ef[ef] = {qps, r};
        std::printf("{\"bench\":\"vector\",\"event\":\"search\",\"lib\":\"hnswlib\",\"n\":%zu,\"ef_search\":%d,"
                    "\"qps\":%.1f,\"qps_cpu\":%.1f,\"recall_at_k\":%.4f,\"k\":%u,\"threads\":1}\n",
                    static_cast<size_t>(d.n), ef, qps, qps_cpu, r, d.k);
        std::fflush(stdout);
    }
    print_summary("hnswlib", 0.95, by_ef, build_s, md);
    print_summary("hnswlib", 0.99, by_ef, build_s, md);
    return 0;
}
