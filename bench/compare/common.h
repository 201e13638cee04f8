// Shared by the comparison programs: reads the data file bench_vector --write-data
// wrote, times things, finds medify's results in its JSON lines for the ratios.
#ifndef MEDIFY_BENCH_COMPARE_COMMON_H
#define MEDIFY_BENCH_COMPARE_COMMON_H

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

struct BenchData {
    uint32_t dim = 0, k = 0;
    uint64_t n = 0, n_queries = 0;
    std::vector<float> base, queries;
    std::vector<uint32_t> truth;
};

inline bool read_data(const char *path, BenchData &d) {
    std::ifstream f(path, std::ios::binary);
    char magic[8];
    uint32_t version = 0;
    if (!f.read(magic, 8) || std::memcmp(magic, "MDVBENCH", 8) != 0) return false;
    f.read(reinterpret_cast<char *>(&version), 4);
    f.read(reinterpret_cast<char *>(&d.dim), 4);
    f.read(reinterpret_cast<char *>(&d.n), 8);
    f.read(reinterpret_cast<char *>(&d.n_queries), 8);
    f.read(reinterpret_cast<char *>(&d.k), 4);
    if (!f || version != 1 || d.dim == 0 || d.dim > 65536 || d.k == 0 || d.n > (1ull << 32)) return false;
    d.base.resize(d.n * d.dim);
    d.queries.resize(d.n_queries * d.dim);
    d.truth.resize(d.n_queries * d.k);
    f.read(reinterpret_cast<char *>(d.base.data()), static_cast<std::streamsize>(d.base.size() * 4));
    f.read(reinterpret_cast<char *>(d.queries.data()), static_cast<std::streamsize>(d.queries.size() * 4));
    f.read(reinterpret_cast<char *>(d.truth.data()), static_cast<std::streamsize>(d.truth.size() * 4));
    return static_cast<bool>(f);
}

inline double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds of the process (the wall clock on a shared machine measures the
// neighbours too).
inline double cpu_s() {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

inline size_t rss_bytes() {
    std::ifstream f("/proc/self/statm");
    unsigned long size = 0, rss = 0;
    f >> size >> rss;
    return rss * 4096ul;
}

// recall@k of labels (n_queries, k) against the truth
inline double recall(const BenchData &d, const std::vector<int64_t> &labels) {
    size_t found = 0;
    for (size_t q = 0; q < d.n_queries; q++) {
        const uint32_t *t = &d.truth[q * d.k];
        for (size_t i = 0; i < d.k; i++) {
            int64_t l = labels[q * d.k + i];
            for (size_t j = 0; j < d.k; j++) {
                if (l == static_cast<int64_t>(t[j])) {
                    found++;
                    break;
                }
            }
        }
    }
    return static_cast<double>(found) / static_cast<double>(d.n_queries * d.k);
}

// The numeric value of "key": in a JSON line we wrote ourselves (flat objects).
inline bool json_num(const std::string &line, const char *key, double &out) {
    std::string pat = std::string("\"") + key + "\":";
    size_t at = line.find(pat);
    if (at == std::string::npos) return false;
    out = std::strtod(line.c_str() + at + pat.size(), nullptr);
    return true;
}

struct MedifyResults {
    double build_s = -1;
    std::map<int, std::pair<double, double>> by_ef; // ef -> (qps, recall)
};

inline MedifyResults read_medify(const char *path) {
    MedifyResults r;
    std::ifstream f(path);
    std::string line;
    while (std::getline(f, line)) {
        if (line.find("\"lib\":\"medify\"") == std::string::npos) continue;
        double x, ef, qps, rec;
        if (line.find("\"event\":\"build\"") != std::string::npos && json_num(line, "build_s", x)) r.build_s = x;
        if (line.find("\"event\":\"search\"") != std::string::npos && json_num(line, "ef_search", ef) &&
            json_num(line, "qps", qps) && json_num(line, "recall_at_k", rec))
            r.by_ef[static_cast<int>(ef)] = {qps, rec};
    }
    return r;
}

// Highest QPS among settings reaching the recall target; -1 if none does.
inline double best_qps_at(const std::map<int, std::pair<double, double>> &by_ef, double target, int *ef_out) {
    double best = -1;
    for (const auto &e : by_ef) {
        if (e.second.second >= target && e.second.first > best) {
            best = e.second.first;
            *ef_out = e.first;
        }
    }
    return best;
}

inline void print_summary(const char *lib, double target, const std::map<int, std::pair<double, double>> &lib_by_ef,
                          double lib_build_s, const MedifyResults &m) {
    int ef_lib = -1, ef_md = -1;
    double q_lib = best_qps_at(lib_by_ef, target, &ef_lib), q_md = best_qps_at(m.by_ef, target, &ef_md);
    std::printf("{\"bench\":\"vector\",\"event\":\"ratio\",\"lib\":\"%s\",\"recall_target\":%.2f,"
                "\"medify_ef\":%d,\"medify_qps\":%.1f,\"%s_ef\":%d,\"%s_qps\":%.1f,\"qps_ratio\":%.3f,"
                "\"medify_build_s\":%.2f,\"%s_build_s\":%.2f,\"build_ratio\":%.3f}\n",
                lib, target, ef_md, q_md, lib, ef_lib, lib, q_lib, (q_md > 0 && q_lib > 0) ? q_md / q_lib : -1.0,
                m.build_s, lib, lib_build_s, (m.build_s > 0 && lib_build_s > 0) ? m.build_s / lib_build_s : -1.0);
}

inline std::vector<int> parse_efs(const char *s) {
    std::vector<int> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        out.push_back(std::atoi(item.c_str()));
    return out;
}

#endif
