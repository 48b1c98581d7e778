// libFuzzer target: the quadflow CLI's argument parsing and validation (apps/quadflow/src/cli, through run_cli). The
// input is a command line, one argument per line. Expected: exit code 0 or 2 (bad input, one line on stderr); code
// 1 (an exception that is not a quadflow::error) or a crash is a finding.
//
// Safety and speed: every value of a file flag (--image, --mask, --json, --overlay, --out, --out-dir, --stats) is
// replaced by a small test image or a file in a scratch folder, so the target never touches other files and
// img2img and demo work on 64x64 images; --steps above 256, --denoise below 0.01 and upscale --scale above 4 are not
// run (a long schedule or a large image is slow, not wrong).
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <sstream>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

#include "quadflow_app/cli.hpp"

#ifndef QUADFLOW_SOURCE_DIR
#error "QUADFLOW_SOURCE_DIR must name the source tree (for the test images)"
#endif

namespace {

/// Discards everything written to it.
class null_buffer : public std::streambuf {
protected:
    int overflow(int c) override { return c; }
    std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

const std::vector<std::string> input_files = {
    QUADFLOW_SOURCE_DIR "/tests/data/flat_64.png",         QUADFLOW_SOURCE_DIR "/tests/data/corner_64.png",
    QUADFLOW_SOURCE_DIR "/tests/data/truncated.png",       QUADFLOW_SOURCE_DIR "/tests/data/not_an_image.png",
    QUADFLOW_SOURCE_DIR "/tests/data/huge_rgb_100000.png", QUADFLOW_SOURCE_DIR "/tests/data/no_such_file.png"};
const std::vector<std::string_view> input_flags = {"--image", "--mask"};
const std::vector<std::string_view> output_flags = {"--json", "--overlay", "--out", "--out-dir", "--stats"};

/// A folder for the files the commands write, removed when the fuzzer exits.
struct scratch_folder {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("quadflow_fuzz_cli_" + std::to_string(::getpid()));
    scratch_folder() { std::filesystem::create_directories(path); }
    ~scratch_folder() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

std::string scratch_dir() {
    static const scratch_folder folder;
    return folder.path.string();
}

bool is_flag_in(std::string_view arg, const std::vector<std::string_view>& flags, std::string_view* flag) {
    for (std::string_view f : flags)
        if (arg == f || (arg.size() > f.size() && arg.substr(0, f.size()) == f && arg[f.size()] == '=')) {
            *flag = f;
            return true;
        }
    return false;
}

/// The safe value for a file flag: a test image for inputs, a scratch file for outputs.
std::string safe_value(std::string_view flag, std::size_t choice) {
    for (std::string_view f : input_flags)
        if (flag == f) return input_files[choice % input_files.size()];
    return scratch_dir() + "/out" + std::to_string(choice % 3) +
           (flag == "--json" || flag == "--stats" ? ".json" : ".png");
}

/// Whether the arguments ask for work that is slow but not wrong.
bool too_slow(const std::vector<std::string>& args) {
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
        const char* value = args[i + 1].c_str();
        if (args[i] == "--steps" && std::strtod(value, nullptr) > 256) return true;
        if (args[i] == "--denoise" && std::strtod(value, nullptr) < 0.01) return true;
        if (args[i] == "--scale" && std::strtod(value, nullptr) > 4) return true;  // upscale: a large image
    }
    for (const std::string& a : args)
        if ((a.starts_with("--steps=") && std::strtod(a.c_str() + 8, nullptr) > 256) ||
            (a.starts_with("--denoise=") && std::strtod(a.c_str() + 10, nullptr) < 0.01) ||
            (a.starts_with("--scale=") && std::strtod(a.c_str() + 8, nullptr) > 4))
            return true;
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<std::string> args{"quadflow"};
    std::string current;
    for (std::size_t i = 0; i < size; ++i) {
        if (data[i] == '\n') {
            args.push_back(current);
            current.clear();
        } else if (data[i] != '\0') {
            current.push_back(static_cast<char>(data[i]));
        }
    }
    if (!current.empty()) args.push_back(current);
    if (args.size() > 64) return 0;

    for (std::size_t i = 1; i < args.size(); ++i) {
        std::string_view flag;
        if (is_flag_in(args[i], input_flags, &flag) || is_flag_in(args[i], output_flags, &flag)) {
            const std::string value = safe_value(flag, args[i].size() + i);
            if (args[i].size() > flag.size())
                args[i] = std::string(flag) + "=" + value;
            else if (i + 1 < args.size())
                args[++i] = value;
        }
    }
    if (too_slow(args)) return 0;

    if (std::find(args.begin(), args.end(), "demo") != args.end()) {
        // The bundled 512x512 photo takes seconds per policy, and the default folder is ./out/demo.
        for (const std::string& a : {std::string("--image"), input_files[1], std::string("--out-dir"), scratch_dir()})
            args.push_back(a);
    }
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    static null_buffer sink;
    std::ostream discarded(&sink);
    std::ostringstream errors;
    const int code = quadflow::cli::run_cli(static_cast<int>(argv.size()), argv.data(), discarded, errors);

    if (code == 1 || (code != 0 && code != 2)) {
        std::string line;
        for (const std::string& a : args) line += " '" + a + "'";
        std::fprintf(stderr, "quadflow fuzz finding: exit code %d for%s\n%s", code, line.c_str(), errors.str().c_str());
        std::abort();
    }
    if (code == 2) {
        const std::string text = errors.str();
        if (text.empty() || text.find('\n') != text.size() - 1) {
            std::fprintf(stderr, "quadflow fuzz finding: exit code 2 without exactly one line on stderr: %s",
                         text.c_str());
            std::abort();
        }
    }
    return 0;
}
