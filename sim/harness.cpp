// Native Verilator harness for the spikeforge accelerator: the fast path for
// whole data sets. It streams input payload words from a file into the
// `events` stream, collects every `results` payload word into a file, and
// talks to the configuration port before (writes) and after (reads) the run.
//
//   harness IN.bin OUT.bin --samples N --kind-bits K --done-kind D
//           --in-kind-bits KI --end-sample-kind E
//           [--config CFG.bin] [--read A,B,...] [--max-cycles C] [--stall-every S]
//
// IN.bin: little-endian uint64 input payloads, in stream order. OUT.bin: the
// same for results. CFG.bin: little-endian uint32 (address, data) pairs written
// before the first event. The run ends after N results whose low K bits equal
// D (SAMPLE_DONE). Samples go in one at a time: after an input whose low KI
// bits equal E (END_SAMPLE) no input is sent until that sample's SAMPLE_DONE has
// come out, the core is idle and the --read addresses have been read (one list
// per sample). --stall-every S drops results.ready one cycle in S
// (back-pressure). Prints one JSON object: cycles, reads (after the last
// sample), sample_reads.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "Vharness_top.h"
#include "verilated.h"

// Verilator spells the "__" of Amaranth's port names (events__valid) as "___05F".

static Vharness_top *top;
static uint64_t cycles = 0;

static void tick() {
    top->clk = 0;
    top->eval();
    top->clk = 1;
    top->eval();
    cycles++;
}

static void fail(const std::string &msg) {
    std::fprintf(stderr, "harness: %s\n", msg.c_str());
    std::exit(2);
}

static std::vector<uint8_t> read_file(const char *path) {
    FILE *f = std::fopen(path, "rb");
    if (!f) fail(std::string("cannot open ") + path);
    std::vector<uint8_t> bytes;
    uint8_t buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
    std::fclose(f);
    return bytes;
}

static void cfg_write(uint32_t addr, uint32_t data) {
    top->cfg___05Faddr = addr;
    top->cfg___05Fw_data = data;
    top->cfg___05Fw_stb = 1;
    tick();
    top->cfg___05Fw_stb = 0;
}

static uint32_t cfg_read(uint32_t addr, uint64_t max_cycles) {
    top->cfg___05Faddr = addr;
    top->cfg___05Fr_stb = 1;
    tick();
    top->cfg___05Fr_stb = 0;
    for (uint64_t waited = 0; waited < max_cycles; waited++) {
        top->clk = 0;
        top->eval();
        if (top->cfg___05Fr_valid) {
            uint32_t value = top->cfg___05Fr_data;
            tick();
            return value;
        }
        tick();
    }
    fail("configuration read at " + std::to_string(addr) + " never answered");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) fail("usage: harness IN.bin OUT.bin --samples N --kind-bits K --done-kind D ...");
    const char *in_path = argv[1], *out_path = argv[2];
    uint64_t samples = 0, max_cycles = 4000000000ULL, stall_every = 0;
    unsigned kind_bits = 0, done_kind = 0, in_kind_bits = 0, end_sample_kind = 0;
    const char *cfg_path = nullptr;
    std::vector<uint32_t> reads;
    for (int i = 3; i + 1 < argc; i += 2) {
        std::string opt = argv[i];
        const char *val = argv[i + 1];
        if (opt == "--samples") samples = std::strtoull(val, nullptr, 10);
        else if (opt == "--kind-bits") kind_bits = std::strtoul(val, nullptr, 10);
        else if (opt == "--done-kind") done_kind = std::strtoul(val, nullptr, 10);
        else if (opt == "--in-kind-bits") in_kind_bits = std::strtoul(val, nullptr, 10);
        else if (opt == "--end-sample-kind") end_sample_kind = std::strtoul(val, nullptr, 10);
        else if (opt == "--config") cfg_path = val;
        else if (opt == "--max-cycles") max_cycles = std::strtoull(val, nullptr, 10);
        else if (opt == "--stall-every") stall_every = std::strtoull(val, nullptr, 10);
        else if (opt == "--read") {
            for (char *p = const_cast<char *>(val); *p;) {
                reads.push_back(std::strtoul(p, &p, 10));
                if (*p == ',') p++;
            }
        } else fail("unknown option " + opt);
    }
    if (kind_bits == 0 || in_kind_bits == 0) fail("--kind-bits and --in-kind-bits are required");
    std::vector<uint8_t> in_bytes = read_file(in_path);
    if (in_bytes.size() % 8) fail("input file size is not a multiple of 8 bytes");
    size_t n_in = in_bytes.size() / 8;
    const uint64_t *in_words = reinterpret_cast<const uint64_t *>(in_bytes.data());
    const uint64_t kind_mask = (1ULL << kind_bits) - 1;
    const uint64_t in_kind_mask = (1ULL << in_kind_bits) - 1;

    Verilated::commandArgs(argc, argv);
    top = new Vharness_top;
    top->clk = 0;
    top->rst = 1;
    top->events___05Fvalid = 0;
    top->results___05Fready = 0;
    top->cfg___05Fw_stb = 0;
    top->cfg___05Fr_stb = 0;
    tick();
    tick();
    top->rst = 0;
    tick();

    if (cfg_path) {
        std::vector<uint8_t> cfg = read_file(cfg_path);
        if (cfg.size() % 8) fail("config file size is not a multiple of 8 bytes");
        const uint32_t *pairs = reinterpret_cast<const uint32_t *>(cfg.data());
        for (size_t k = 0; k < cfg.size() / 8; k++) cfg_write(pairs[2 * k], pairs[2 * k + 1]);
        tick();  // the core registers each request: the last write lands one clock later
    }

    std::vector<uint64_t> out;
    out.reserve(n_in * 2);
    size_t next = 0;
    uint64_t done = 0, sent = 0, start = cycles;
    std::vector<std::vector<uint32_t>> sample_reads;
    while (done < samples) {
        if (cycles - start > max_cycles) {
            std::fprintf(stderr, "harness: no progress after %llu cycles (%zu of %zu inputs sent, "
                         "%llu of %llu samples done)\n", (unsigned long long)max_cycles, next, n_in,
                         (unsigned long long)done, (unsigned long long)samples);
            return 3;
        }
        if (sample_reads.size() < done) {   // a sample is out: wait for idle, read the counters
            top->events___05Fvalid = 0;
            top->results___05Fready = 1;
            top->clk = 0;
            top->eval();
            if (top->busy) {
                tick();
                continue;
            }
            std::vector<uint32_t> values;
            for (uint32_t addr : reads) values.push_back(cfg_read(addr, 1000000));
            sample_reads.push_back(values);
            continue;
        }
        bool may_send = next < n_in && sent == sample_reads.size();
        top->events___05Fvalid = may_send;
        top->events___05Fpayload = may_send ? in_words[next] : 0;
        top->results___05Fready = !(stall_every && (cycles % stall_every) == 0);
        top->clk = 0;
        top->eval();  // combinational ready/valid settle before the edge
        bool in_fire = top->events___05Fvalid && top->events___05Fready;
        if (top->results___05Fvalid && top->results___05Fready) {
            uint64_t word = top->results___05Fpayload;
            out.push_back(word);
            if ((word & kind_mask) == done_kind) done++;
        }
        top->clk = 1;
        top->eval();
        cycles++;
        if (in_fire) {
            if ((in_words[next] & in_kind_mask) == end_sample_kind) sent++;
            next++;
        }
    }
    while (sample_reads.size() < done) {    // the last sample's counters
        top->clk = 0;
        top->eval();
        if (top->busy) {
            tick();
            continue;
        }
        std::vector<uint32_t> values;
        for (uint32_t addr : reads) values.push_back(cfg_read(addr, 1000000));
        sample_reads.push_back(values);
    }
    uint64_t run_cycles = cycles - start;
    top->events___05Fvalid = 0;
    top->results___05Fready = 0;

    std::vector<uint32_t> values = sample_reads.empty() ? std::vector<uint32_t>() : sample_reads.back();

    FILE *f = std::fopen(out_path, "wb");
    if (!f) fail(std::string("cannot write ") + out_path);
    std::fwrite(out.data(), 8, out.size(), f);
    std::fclose(f);
    std::printf("{\"cycles\": %llu, \"results\": %zu, \"inputs\": %zu, \"reads\": [",
                (unsigned long long)run_cycles, out.size(), next);
    for (size_t k = 0; k < values.size(); k++) std::printf("%s%u", k ? ", " : "", values[k]);
    std::printf("], \"sample_reads\": [");
    for (size_t n = 0; n < sample_reads.size(); n++) {
        std::printf("%s[", n ? ", " : "");
        for (size_t k = 0; k < sample_reads[n].size(); k++)
            std::printf("%s%u", k ? ", " : "", sample_reads[n][k]);
        std::printf("]");
    }
    std::printf("]}\n");
    top->final();
    delete top;
    return 0;
}
