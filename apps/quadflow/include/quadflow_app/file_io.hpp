// quadflow app: writing whole files safely, and the one wording of a failed write ("cannot write '<path>': <reason>").
//
// Every file the tool writes goes through write_file: the bytes go to a temporary file beside the target, every
// write, the flush and the close are checked, and only then is the temporary renamed over the target. A failure
// (a full disk, a size limit, a kill) leaves the target as it was and removes the temporary; the target is never
// opened with truncation. A target that is a device or a pipe (/dev/stdout, /dev/full) is written in place, checked
// the same way; a symbolic link is followed, so the file it names is replaced and the link stays.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "quadflow/core/error.hpp"

namespace quadflow::app {

/// The io_error of every failed write: "cannot write '<path>': <reason>".
inline io_error cannot_write(std::string_view path, std::string_view reason) {
    return io_error("cannot write '" + std::string(path) + "': " + std::string(reason));
}

/// The reason of the last failed C or C++ library call: strerror(errno), or strerror(EIO) when errno is 0.
inline std::string last_system_error() { return std::strerror(errno ? errno : EIO); }

namespace detail {

/// The temporary file being written, removed by the signal handler if SIGINT, SIGTERM or SIGHUP arrive meanwhile.
inline char pending_temporary[4096];
inline std::atomic<bool> has_pending_temporary{false};

extern "C" inline void remove_pending_temporary(int signal_number) {
    if (has_pending_temporary.load()) ::unlink(pending_temporary);
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
}

/// While alive: the signal handlers that remove `path`, and SIGXFSZ ignored (a file-size limit then fails the write
/// with EFBIG instead of killing the process).
class temporary_guard {
public:
    explicit temporary_guard(const std::string& path) {
        const std::size_t n = std::min(path.size(), sizeof(pending_temporary) - 1);
        std::memcpy(pending_temporary, path.data(), n);
        pending_temporary[n] = '\0';
        has_pending_temporary.store(true);
        for (int s : {SIGINT, SIGTERM, SIGHUP}) previous_[index(s)] = std::signal(s, remove_pending_temporary);
        previous_xfsz_ = std::signal(SIGXFSZ, SIG_IGN);
    }
    ~temporary_guard() {
        for (int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, previous_[index(s)]);
        std::signal(SIGXFSZ, previous_xfsz_);
        has_pending_temporary.store(false);
    }
    temporary_guard(const temporary_guard&) = delete;
    temporary_guard& operator=(const temporary_guard&) = delete;

private:
    static int index(int s) { return s == SIGINT ? 0 : s == SIGTERM ? 1 : 2; }
    void (*previous_[3])(int) = {};
    void (*previous_xfsz_)(int) = nullptr;
};

/// Writes all of `bytes` to the open descriptor `fd`; false with errno set on failure.
inline bool write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ::ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

}  // namespace detail

/// Writes `bytes` to `path`, replacing the file only once all of them are written; throws cannot_write(path, reason)
/// and leaves any existing file untouched on failure.
inline void write_file(const std::string& path, std::string_view bytes) {
    namespace fs = std::filesystem;
    std::error_code error;
    const fs::path target = fs::weakly_canonical(fs::path(path), error);  // a symbolic link's file, the link stays
    if (error) throw cannot_write(path, error.message());
    struct ::stat existing {};
    if (::stat(target.c_str(), &existing) == 0 && !S_ISREG(existing.st_mode)) {
        if (S_ISDIR(existing.st_mode)) throw cannot_write(path, std::strerror(EISDIR));
        detail::temporary_guard signals("");  // no temporary; SIGXFSZ still becomes EFBIG
        errno = 0;
        const int fd = ::open(target.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) throw cannot_write(path, last_system_error());
        const bool written = detail::write_all(fd, bytes);
        const int write_errno = errno;
        if (::close(fd) != 0 || !written) throw cannot_write(path, std::strerror(written ? errno : write_errno));
        return;
    }
    std::string temporary = (target.parent_path() / ("." + target.filename().string() + ".quadflow-XXXXXX")).string();
    errno = 0;
    const int fd = ::mkstemp(temporary.data());
    if (fd < 0) throw cannot_write(path, last_system_error());
    detail::temporary_guard guard(temporary);
    auto fail = [&](int saved_errno) {
        ::unlink(temporary.c_str());
        return cannot_write(path, std::strerror(saved_errno ? saved_errno : EIO));
    };
    // mkstemp makes the file 0600; give it what a plain create would (0666 less the umask).
    const ::mode_t mask = ::umask(0);
    ::umask(mask);
    if (::fchmod(fd, 0666 & ~mask) != 0 || !detail::write_all(fd, bytes) || ::fsync(fd) != 0) {
        const int saved = errno;
        ::close(fd);
        throw fail(saved);
    }
    if (::close(fd) != 0) throw fail(errno);
    if (::rename(temporary.c_str(), target.c_str()) != 0) throw fail(errno);
}

}  // namespace quadflow::app
