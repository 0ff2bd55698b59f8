import KubeAPI
import KubeAPIExtensions
import TideAPI

/// Mode CronJob: the scaler as a CronJob, one decision a run.
enum ScalerCronJob: ChildPart {
    static func isWanted(by application: Application, serviceMonitors: Bool) -> Bool {
        Children.runsScaler(application) && (application.spec.scaling?.mode ?? .cronJob) == .cronJob
    }

    static func desired(for application: Application, settings: OperatorSettings) throws -> DesiredChild {
        try DesiredChild(Children.scalerCronJob(for: application, settings: settings), part: self)
    }
}

extension Children {
    public static func scalerCronJob(for application: Application, settings: OperatorSettings) -> CronJob {
        let scaling = application.spec.scaling
        return CronJob(
            metadata: metadata(scalerName(for: application), for: application, component: "scaler"),
            spec: .init(
                schedule: scaling?.schedule ?? Defaults.schedule, concurrencyPolicy: "Forbid", suspend: false,
                startingDeadlineSeconds: 60, successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 1,
                // A run that decided, or recorded why it could not, exits 0: the Job neither
                // retries it (which would count a failure twice) nor warns every tick.
                // backoffLimit 1 retries only a run that could not record anything.
                jobTemplate: .init(spec: .init(
                    backoffLimit: 1, activeDeadlineSeconds: 120, ttlSecondsAfterFinished: 600,
                    template: scalerPod(
                        for: application, settings: settings, arguments: scalerArguments(for: application) + ["--exit-zero-when-recorded"],
                        restartPolicy: "Never")))))
    }
}
