// Command pulumi-language-python is the language host that lets the Pulumi CLI built by
// scripts/setup run this project's Python program, its Python policy pack and Python plugins.
//
// Pulumi's own host lives in a nested module (sdk/python/cmd/pulumi-language-python) that the
// Go module proxy reachable here does not serve, so this one implements the part of the
// LanguageRuntime protocol (sdk/proto/language.proto) that `preview`, `up`, `refresh`,
// `destroy`, `stack output` and the Automation API use: Run, RunPlugin, GetPluginInfo and the
// dependency queries. It runs programs the way Pulumi's host does: through the SDK's
// `pulumi-language-python-exec` shim in the virtualenv named by the project's runtime options.
// Installing dependencies is scripts/setup's job, so InstallDependencies is refused: a policy
// pack that Pulumi Cloud enforces server-side needs Pulumi's own host (the pulumi.com CLI).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// version is set by scripts/setup to the CLI version it builds alongside.
var version = "v3.0.0-dev"

// execShim is the SDK's program runner, installed by scripts/setup beside this binary.
const execShim = "pulumi-language-python-exec"

func main() {
	engineAddress := ""
	for _, arg := range os.Args[1:] {
		if !strings.HasPrefix(arg, "-") {
			engineAddress = arg
		}
	}
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	host := &languageHost{engineAddress: engineAddress, shim: filepath.Join(filepath.Dir(self), execShim)}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fail(err)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
	os.Exit(1)
}

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	shim          string
}

// python returns the interpreter of the virtualenv that the runtime options name (relative to
// the project or plugin root), as Pulumi's host does for the `pip` toolchain.
func python(info *pulumirpc.ProgramInfo) (string, error) {
	if info == nil {
		return "", errors.New("the engine sent no program info")
	}
	venv := ""
	if options := info.GetOptions(); options != nil {
		if value, ok := options.AsMap()["virtualenv"].(string); ok {
			venv = value
		}
	}
	if venv == "" {
		return "", fmt.Errorf("runtime option 'virtualenv' is not set for %s; this host runs "+
			"programs only from a virtualenv (scripts/setup creates .venv)", info.GetRootDirectory())
	}
	if !filepath.IsAbs(venv) {
		venv = filepath.Join(info.GetRootDirectory(), venv)
	}
	interpreter := filepath.Join(venv, "bin", "python")
	if _, err := os.Stat(interpreter); err != nil {
		return "", fmt.Errorf("virtualenv %s has no bin/python: run scripts/setup", venv)
	}
	return interpreter, nil
}

// activated is the environment with the virtualenv's bin first on PATH, as `activate` does.
func activated(interpreter string, extra ...string) []string {
	bin := filepath.Dir(interpreter)
	env := []string{"VIRTUAL_ENV=" + filepath.Dir(bin)}
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, "PATH="):
			env = append(env, "PATH="+bin+string(os.PathListSeparator)+strings.TrimPrefix(kv, "PATH="))
		case strings.HasPrefix(kv, "PYTHONHOME="), strings.HasPrefix(kv, "VIRTUAL_ENV="):
		default:
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

func exitMessage(err error) string {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok {
			return fmt.Sprintf("Program exited with non-zero exit code: %d", ws.ExitStatus())
		}
	}
	return fmt.Sprintf("Problem executing program (could not run language executor): %v", err)
}

func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	interpreter, err := python(req.GetInfo())
	if err != nil {
		return nil, err
	}
	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(req.GetConfigSecretKeys())
	if err != nil {
		return nil, err
	}
	program := req.GetInfo().GetEntryPoint()
	if program == "" {
		program = "."
	}
	args := []string{"-u", h.shim,
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engineAddress,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", req.GetPwd(),
		"--dry_run", strconv.FormatBool(req.GetDryRun()),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
		"--root_directory", req.GetInfo().GetRootDirectory(),
	}
	if req.GetOrganization() != "" {
		args = append(args, "--organization", req.GetOrganization())
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	cmd := exec.CommandContext(ctx, interpreter, args...)
	cmd.Dir = req.GetInfo().GetProgramDirectory()
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = activated(interpreter,
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		// 32: the program already showed the user an actionable message (the SDK's convention).
		if errors.As(err, &exitErr) && exitErr.ExitCode() == 32 {
			return &pulumirpc.RunResponse{Bail: true}, nil
		}
		return &pulumirpc.RunResponse{Error: exitMessage(err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin starts a Python plugin (a policy pack or a provider) from its directory's
// __main__.py, streaming its output back to the engine.
func (h *languageHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	interpreter, err := python(req.GetInfo())
	if err != nil {
		return err
	}
	args := append([]string{"-u", req.GetInfo().GetProgramDirectory()}, req.GetArgs()...)
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	cmd := exec.CommandContext(server.Context(), interpreter, args...)
	cmd.Dir = req.GetPwd()
	cmd.Env = activated(interpreter, req.GetEnv()...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	runErr := cmd.Run()
	code := int32(0)
	if runErr != nil {
		var exitErr *exec.ExitError
		if !errors.As(runErr, &exitErr) {
			return runErr
		}
		code = int32(exitErr.ExitCode())
	}
	if err := closer.Close(); err != nil {
		return err
	}
	return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// pluginManifest is the `pulumi-plugin.json` a provider SDK ships inside its Python package.
type pluginManifest struct {
	Resource bool   `json:"resource"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Server   string `json:"server"`
}

// installedProviders lists the provider SDKs installed in the program's virtualenv, as Pulumi's
// host does, so the engine can install (or, offline, find) each plugin before the program runs.
func installedProviders(info *pulumirpc.ProgramInfo) ([]pluginManifest, error) {
	interpreter, err := python(info)
	if err != nil {
		return nil, err
	}
	venv := filepath.Dir(filepath.Dir(interpreter))
	manifests, err := filepath.Glob(filepath.Join(venv, "lib", "python*", "site-packages", "*", "pulumi-plugin.json"))
	if err != nil {
		return nil, err
	}
	var found []pluginManifest
	for _, path := range manifests {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var manifest pluginManifest
		if err := json.Unmarshal(raw, &manifest); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if manifest.Resource && manifest.Name != "" {
			if !strings.HasPrefix(manifest.Version, "v") {
				manifest.Version = "v" + manifest.Version
			}
			found = append(found, manifest)
		}
	}
	return found, nil
}

func (h *languageHost) GetRequiredPlugins(
	_ context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	providers, err := installedProviders(req.GetInfo())
	if err != nil {
		return nil, err
	}
	plugins := make([]*pulumirpc.PluginDependency, 0, len(providers))
	for _, p := range providers {
		plugins = append(plugins, &pulumirpc.PluginDependency{
			Name: p.Name, Kind: "resource", Version: p.Version, Server: p.Server,
		})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

func (h *languageHost) GetRequiredPackages(
	_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	providers, err := installedProviders(req.GetInfo())
	if err != nil {
		return nil, err
	}
	packages := make([]*pulumirpc.PackageDependency, 0, len(providers))
	for _, p := range providers {
		packages = append(packages, &pulumirpc.PackageDependency{
			Name: p.Name, Kind: "resource", Version: p.Version, Server: p.Server,
		})
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: packages}, nil
}

func (h *languageHost) InstallDependencies(
	*pulumirpc.InstallDependenciesRequest, grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	return status.Error(codes.Unimplemented, "run scripts/setup to install this project's dependencies")
}

func (h *languageHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	interpreter, err := python(req.GetInfo())
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, interpreter, "--version").Output()
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: interpreter,
		Version:    strings.TrimPrefix(strings.TrimSpace(string(out)), "Python "),
	}, nil
}
