// Runs the built `fileaio` executable (FILEAIO_CLI_PATH, set by CMake) and captures what it said.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <csignal>
#include <fcntl.h>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char **environ;

namespace fileaio::test {

struct cli_result {
    int exit_code = -1;   // -1: did not run or was killed by a signal
    std::string out;      // stdout
    std::string err;      // stderr
    [[nodiscard]] std::string all() const { return out + err; }
};

// The file's bytes ("" when it cannot be read). Plain read(2): GCC's -Wnull-dereference flags
// istreambuf_iterator.
inline std::string read_whole_file(const std::string &path)
{
    std::string text;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return text;
    }
    char chunk[65536];
    ssize_t n = 0;
    while ((n = ::read(fd, chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR)) {
        if (n > 0) {
            text.append(chunk, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    return text;
}

// A started `fileaio` (spawn_cli); finish_cli waits for it and reads what it said.
struct cli_process {
    pid_t pid = -1;
    std::string out_path;
    std::string err_path;
    std::string spawn_error;  // set when it could not be started
};

// Starts `fileaio args...` with stdout and stderr going to files in work_dir; `env` entries
// ("NAME=value") are added to the environment.
inline cli_process spawn_cli(const std::string &work_dir, const std::vector<std::string> &args,
                             const std::vector<std::string> &env = {})
{
    cli_process proc;
    const std::string out_path = work_dir + "/cli.stdout";
    const std::string err_path = work_dir + "/cli.stderr";
    std::vector<std::string> argv_storage{FILEAIO_CLI_PATH};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char *> argv;
    for (auto &a : argv_storage) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    std::vector<std::string> env_storage(env);
    for (char **e = environ; *e != nullptr; ++e) {
        env_storage.emplace_back(*e);  // ours come first: getenv finds the first
    }
    std::vector<char *> envp;
    for (auto &e : env_storage) {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    proc.out_path = out_path;
    proc.err_path = err_path;
    if (rc != 0) {
        proc.spawn_error = std::string("posix_spawn: ") + std::strerror(rc);
        return proc;
    }
    proc.pid = pid;
    return proc;
}

inline cli_result finish_cli(const cli_process &proc)
{
    cli_result result;
    if (proc.pid < 0) {
        result.err = proc.spawn_error;
        return result;
    }
    int status = 0;
    while (waitpid(proc.pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    }
    result.out = read_whole_file(proc.out_path);
    result.err = read_whole_file(proc.err_path);
    return result;
}

// finish_cli, but a process still running after `seconds` is killed (SIGKILL) and reaped, so
// that a hang fails the test instead of outliving it; exit_code is then -1.
inline cli_result finish_cli_within(const cli_process &proc, int seconds)
{
    if (proc.pid >= 0) {
        for (int tenths = 0; tenths < seconds * 10; ++tenths) {
            siginfo_t info{};
            if (waitid(P_PID, static_cast<id_t>(proc.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid != 0) {
                return finish_cli(proc);
            }
            usleep(100000);
        }
        ::kill(proc.pid, SIGKILL);
    }
    return finish_cli(proc);
}

// Runs `fileaio args...` to the end (see spawn_cli).
inline cli_result run_cli(const std::string &work_dir, const std::vector<std::string> &args,
                          const std::vector<std::string> &env = {})
{
    return finish_cli(spawn_cli(work_dir, args, env));
}

}  // namespace fileaio::test
